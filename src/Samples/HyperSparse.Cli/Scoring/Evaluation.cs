using System.Globalization;
using Spectre.Console;

namespace HyperSparse.Cli.Scoring;

/// <summary>Accuracy, per-class precision/recall/F1 and the confusion matrix, computed from Score (arg-max) and the true class.</summary>
internal sealed class Evaluation
{
    public Evaluation(string[] classNames, IReadOnlyList<int> truth, IReadOnlyList<float[]> scores)
    {
        ClassNames = classNames;
        var k = classNames.Length;
        Confusion = new long[k, k];
        double logLoss = 0;
        for (var i = 0; i < truth.Count; i++)
        {
            var predicted = ArgMax(scores[i]);
            Confusion[truth[i], predicted]++;
            logLoss -= Math.Log(Math.Max(scores[i][truth[i]], 1e-15));
        }
        Count = truth.Count;
        Correct = Enumerable.Range(0, k).Sum(c => Confusion[c, c]);
        LogLoss = Count == 0 ? double.NaN : logLoss / Count;
        PerClass = Enumerable.Range(0, k).Select(c =>
        {
            long support = 0, predictedCount = 0;
            for (var j = 0; j < k; j++) { support += Confusion[c, j]; predictedCount += Confusion[j, c]; }
            var tp = Confusion[c, c];
            var precision = predictedCount == 0 ? double.NaN : (double)tp / predictedCount;
            var recall = support == 0 ? double.NaN : (double)tp / support;
            var f1 = double.IsNaN(precision) || double.IsNaN(recall) || precision + recall == 0 ? double.NaN : 2 * precision * recall / (precision + recall);
            return new ClassMetrics(classNames[c], support, precision, recall, f1);
        }).ToArray();
    }

    public string[] ClassNames { get; }
    public long[,] Confusion { get; }
    public int Count { get; }
    public long Correct { get; }
    public double Accuracy => Count == 0 ? double.NaN : (double)Correct / Count;
    /// <summary>Mean recall over classes present in the data.</summary>
    public double MacroAccuracy => PerClass.Where(c => c.Support > 0).Select(c => c.Recall).DefaultIfEmpty(double.NaN).Average();
    public double LogLoss { get; }
    public ClassMetrics[] PerClass { get; }

    public static int ArgMax(float[] scores)
    {
        var best = 0;
        for (var i = 1; i < scores.Length; i++) if (scores[i] > scores[best]) best = i;
        return best;
    }

    public void Render(IAnsiConsole console)
    {
        console.MarkupLine(Markup.Escape(F($"Accuracy {Accuracy:P2} ({Correct:N0} of {Count:N0}), macro accuracy {MacroAccuracy:P2}, log-loss {LogLoss:F4}")));
        var perClass = new Table().Border(TableBorder.Simple).Title("Per class");
        perClass.AddColumns("class", "images", "precision", "recall", "F1");
        foreach (var c in PerClass)
            perClass.AddRow(Markup.Escape(c.Name), F($"{c.Support:N0}"), Percent(c.Precision), Percent(c.Recall), Percent(c.F1));
        foreach (var column in perClass.Columns.Skip(1)) column.RightAligned();
        console.Write(perClass);

        var matrix = new Table().Border(TableBorder.Simple).Title("Confusion matrix (rows: true class, columns: predicted)");
        matrix.AddColumn("true \\ predicted");
        for (var j = 0; j < ClassNames.Length; j++) matrix.AddColumn(new TableColumn(Markup.Escape(Short(ClassNames[j]))).RightAligned());
        for (var i = 0; i < ClassNames.Length; i++)
        {
            var cells = new List<string> { Markup.Escape(ClassNames[i]) };
            for (var j = 0; j < ClassNames.Length; j++)
                cells.Add(i == j ? $"[bold]{Confusion[i, j]}[/]" : Confusion[i, j] == 0 ? "[grey]0[/]" : Confusion[i, j].ToString(CultureInfo.InvariantCulture));
            matrix.AddRow(cells.ToArray());
        }
        console.Write(matrix);
    }

    /// <summary>A plain-data form for report.json.</summary>
    public object ToJson() => new
    {
        Count,
        Correct,
        Accuracy,
        MacroAccuracy,
        LogLoss,
        PerClass = PerClass.Select(c => new { c.Name, c.Support, Precision = Nan(c.Precision), Recall = Nan(c.Recall), F1 = Nan(c.F1) }),
        ClassNames,
        Confusion = Enumerable.Range(0, ClassNames.Length).Select(i => Enumerable.Range(0, ClassNames.Length).Select(j => Confusion[i, j]).ToArray()).ToArray(),
    };

    private static double? Nan(double v) => double.IsNaN(v) ? null : v;

    private static string Short(string name) => name.Length <= 10 ? name : name[..9] + "…";

    private static string Percent(double v) => double.IsNaN(v) ? "—" : F($"{v * 100:F1} %");

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

internal sealed record ClassMetrics(string Name, long Support, double Precision, double Recall, double F1);
