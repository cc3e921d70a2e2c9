using System.Globalization;
using System.Text;

namespace Microsoft.ML.HyperSparse;

public sealed partial class HyperSparseModelInfo
{
    /// <summary>
    /// A plain-text report: source and producer, the input contract, one table row per layer (name, op, shape, weights,
    /// kept, sparsity, encoding, bytes, bound, and — for a file whose dead channels were removed — the channels removed; a
    /// layer kept dense is starred and marked "kept dense (excluded)"), the totals against the dense size and the bound, the
    /// network as trained when the shrink changed it, and any warnings.
    /// Numbers use the invariant culture.
    /// </summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        void Line(string line = "") => text.Append(line).Append('\n');

        Line($"Model:    {Source}{(ZipEntry is null ? "" : $" → {ZipEntry}")}");
        Line($"Producer: {(Producer.Length == 0 ? "(none)" : Producer)}; ONNX IR {IrVersion}, opset {OpsetVersion}; " +
             (IsHyperSparseModel ? "HyperSparse metadata present" : "no HyperSparse metadata"));
        Line($"Input:    '{Contract.InputName}' float [{string.Join(", ", Contract.InputShape)}]" + Normalization());
        Line($"Outputs:  {Outputs()}");
        Line();

        bool shrunk = Layers.Any(l => l.ShippedKept != l.TrainedKept || !l.ShippedShape.SequenceEqual(l.TrainedShape));
        string[] noRemoved = shrunk ? [""] : [];
        string[] header = ["Layer", "Op", "Shape", "Weights", "Kept", "Sparsity", "Encoding", "Bytes", "Bound", .. (shrunk ? ["Removed"] : noRemoved)];
        var rows = Layers.Select(l => (string[])
        [
            !l.KeptDense ? l.Name : l.Name + " *", l.Op, string.Join('x', l.ShippedShape), Number(l.ShippedTotal), Number(l.ShippedKept), Percent(l.ShippedSparsity),
            l.Encoding, Number(l.OnnxBytes), Number(l.BoundBytes), .. (shrunk ? [Removed(l)] : noRemoved),
        ]).ToList();
        long layerBytes = Layers.Sum(l => l.OnnxBytes);
        rows.Add(["Pruned layers", "", "", Number(PrunableWeights), Number(KeptWeights), Percent(Sparsity), "", "", "", .. noRemoved]);
        rows.Add(["All layers", "", "", Number(Layers.Sum(l => l.ShippedTotal)), Number(Layers.Sum(l => l.ShippedKept)), "", "", Number(layerBytes),
            Number(Layers.Sum(l => l.BoundBytes)), .. noRemoved]);
        bool[] rightAligned = [false, false, false, true, true, true, false, true, true, false];
        int[] widths = Enumerable.Range(0, header.Length).Select(c => rows.Append(header).Max(r => r[c].Length)).ToArray();
        string Row(string[] cells) => string.Join("  ", cells.Select((cell, c) => rightAligned[c] ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))).TrimEnd();
        Line(Row(header));
        for (int i = 0; i < rows.Count; i++)
        {
            if (i == Layers.Count)
                Line(new string('-', widths.Sum() + 2 * (widths.Length - 1)));
            Line(Row(rows[i]));
        }

        if (Layers.Any(l => l.KeptDense))
            Line("* kept dense (excluded): not pruned, stored dense, not counted in the pruned-layer totals");
        if (shrunk)
        {
            Line($"Dead channels removed by the exporter: {Number(Layers.Sum(l => l.OutputChannelsRemoved))} output channels and " +
                 $"{Number(Layers.Sum(l => l.InputChannelsRemoved))} input slices ({Number(Layers.Sum(l => l.TrainedKept - l.ShippedKept))} kept weights folded " +
                 "into biases, merged or read by nothing); the output is unchanged.");
            Line($"As trained: pruned layers {Number(TrainedPrunableWeights)} weights, {Number(TrainedKeptWeights)} kept ({Percent(TrainedSparsity)} sparse); " +
                 "bound and Bound column are of the trained layers.");
        }

        Line();
        Line($"Other parameters: {Number(OtherParameters)} (biases, batch norms, normalisation)" +
             (TrainedOtherParameters == OtherParameters ? "" : $"; {Number(TrainedOtherParameters)} as trained") +
             $", {Number(4.0 * TrainedOtherParameters)} bytes in the bound");
        Line($"File:  {Number(OnnxBytes)} bytes (layer weights {Number(layerBytes)}; the rest {Number(OnnxBytes - layerBytes)}: biases, normalisation, graph, metadata)");
        Line($"Dense: {Number(DenseOnnxBytes)} bytes (the file is {Ratio((double)DenseOnnxBytes / OnnxBytes)}× smaller)");
        Line($"Bound: {Number(BoundBytes)} bytes (file / bound = {Ratio(OnnxBytes / BoundBytes)}); bound = Σ N·H(1−κ)/8 + 4·kept over pruned layers + 4 bytes per other weight and parameter");
        if (Warnings.Count > 0)
        {
            Line();
            Line("Warnings:");
            foreach (string warning in Warnings)
                Line("  - " + warning);
        }

        return text.ToString();
    }

    private static string Removed(HyperSparseModelLayer layer)
    {
        var parts = new List<string>();
        if (layer.OutputChannelsRemoved != 0)
            parts.Add($"{Number(layer.OutputChannelsRemoved)} of {Number(layer.TrainedShape[0])} out");
        if (layer.InputChannelsRemoved != 0)
            parts.Add($"{Number(layer.InputChannelsRemoved)} of {Number(layer.TrainedShape[1])} in");
        if (parts.Count == 0 && layer.TrainedKept != layer.ShippedKept)
            parts.Add($"{Number(layer.TrainedKept - layer.ShippedKept)} kept folded");
        return string.Join(", ", parts);
    }

    private string Normalization()
    {
        if (Contract.PixelScale is not { } scale)
            return " (normalisation unknown: no HyperSparse metadata)";
        return $", normalised in the model as (x × {Float(scale)} − mean) / std, mean [{string.Join(", ", Contract.Mean!.Select(Float))}], " +
               $"std [{string.Join(", ", Contract.Std!.Select(Float))}]";
    }

    private string Outputs()
    {
        var parts = new List<string>();
        string classes = Contract.ClassCount is { } n ? $"{n} classes" : "classes unknown";
        if (Contract.ScoreOutputName is { } score)
            parts.Add($"'{score}' softmax over {classes}");
        if (Contract.PredictedIndexOutputName is { } predicted)
            parts.Add($"'{predicted}' arg-max class index");
        if (Contract.LogitsOutputName is { } logits)
            parts.Add($"'{logits}' logits");
        var rest = Contract.OutputNames.Where(o => o != Contract.ScoreOutputName && o != Contract.PredictedIndexOutputName && o != Contract.LogitsOutputName).ToList();
        if (rest.Count > 0)
            parts.Add(string.Join(", ", rest.Select(o => $"'{o}'")) + (parts.Count == 0 ? $" ({classes})" : ""));
        return parts.Count == 0 ? "(none)" : string.Join("; ", parts);
    }

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Number(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Percent(double fraction) => (fraction * 100).ToString("F2", CultureInfo.InvariantCulture) + " %";

    private static string Ratio(double value) => double.IsFinite(value) ? value.ToString("F2", CultureInfo.InvariantCulture) : "n/a";

    private static string Float(float value) => value.ToString(CultureInfo.InvariantCulture);
}
