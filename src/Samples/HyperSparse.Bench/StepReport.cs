using System.Globalization;
using System.Text;
using System.Text.Json;

namespace HyperSparse.Bench;

/// <summary>
/// Pools the rows of several `step` processes (one JSON object per line) by configuration and prints markdown: one row
/// per configuration (statistics over all measured steps of all its runs, plus the spread of the per-run medians as a
/// noise indicator), then the derived ratios.
/// </summary>
internal static class StepReport
{
    public static int Run(Args args)
    {
        var raw = args.Get("raw") ?? throw new ArgumentException("report needs --raw FILE.");
        var output = args.Get("out");
        var command = args.Get("command", "(not given)");
        var loadStart = args.Get("load-start");
        var elapsed = args.Get("elapsed");
        args.EnsureAllUsed();

        var rows = File.ReadLines(raw).Where(l => l.Trim().Length > 0)
            .Select(l => JsonSerializer.Deserialize<StepRow>(l) ?? throw new InvalidDataException("Empty row in " + raw)).ToList();
        if (rows.Count == 0) throw new ArgumentException($"No rows in {raw}.");

        var md = new StringBuilder();
        md.AppendLine("# HyperSparse training-step benchmark");
        md.AppendLine();
        md.AppendLine($"- Machine: {Environment.ProcessorCount} logical CPUs (nproc), {Machine.CpuModel()}, {Machine.MemTotal()}");
        md.AppendLine($"- Threads: torch.set_num_threads({string.Join("/", rows.Select(r => r.Threads).Distinct())}); TorchSharp 0.107 CPU, .NET {Environment.Version}");
        md.AppendLine($"- Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC (runs {rows.Min(r => r.StartedUtc)} … {rows.Max(r => r.StartedUtc)})");
        md.AppendLine($"- Command: `{command}`");
        var load = $"load average at start {Trim(loadStart)}, at end {Machine.LoadAverage()}";
        md.AppendLine($"- Noise: the 2 cores are shared with other work ({load}); figures are indicative, not precise." +
                      (elapsed is null ? "" : $" Wall time {elapsed} s."));
        md.AppendLine("- Step = forward + cross-entropy + backward [+ `HyperSparseRegularizer(0.9).AddToGradients(weights, 1e-5)`] + " +
                      "`Sgd.Step` (momentum 0.9, wd 1e-4) + disposal of the step's dispose scope, on random data; each " +
                      "configuration is its own process (malloc = `TorchRuntime.TuneAllocatorForTraining(true)` at start), " +
                      "configurations alternate across runs. Median/p10/p90 pool all measured steps of all runs of a " +
                      "configuration; \"run medians\" is the min–max of the per-process medians. RSS = VmRSS after the " +
                      "last step (median over runs); peak = VmHWM.");
        md.AppendLine();

        var groups = rows
            .GroupBy(r => (r.Arch, r.Input, r.Batch, r.Malloc, r.Hs))
            .Select(g => new Group(g.Key.Arch, g.Key.Input, g.Key.Batch, g.Key.Malloc, g.Key.Hs, g.ToList()))
            .ToList();
        var archOrder = rows.Select(r => (r.Arch, r.Input, r.Batch)).Distinct().ToList();
        groups = groups.OrderBy(g => archOrder.IndexOf((g.Arch, g.Input, g.Batch))).ThenBy(g => g.Malloc).ThenBy(g => g.Hs).ToList();

        md.AppendLine("| arch | input | batch | malloc | HS term | runs × steps | median step ms | p10 | p90 | run medians | HS term ms | RSS MB | peak RSS MB |");
        md.AppendLine("|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var g in groups)
        {
            var notApplied = g.Malloc && g.Rows.Any(r => !r.MallocApplied) ? " (not applied!)" : "";
            md.AppendLine($"| {g.Arch} | {g.Input} | {g.Batch} | {OnOff(g.Malloc)}{notApplied} | {OnOff(g.Hs)} | " +
                          $"{g.Rows.Count} × {Fmt0(g.Rows.Average(r => r.Steps))} | **{F(g.Step.Median)}** | {F(g.Step.P10)} | {F(g.Step.P90)} | " +
                          $"{F(g.RunMin)}–{F(g.RunMax)} | {(g.Hs ? F(g.HsTerm.Median) : "–")} | {Fmt0(g.RssMb)} | {Fmt0(g.PeakMb)} |");
        }
        md.AppendLine();

        md.AppendLine("| arch | input | batch | malloc speedup, HS off (off/on) | malloc speedup, HS on (off/on) | HS overhead % (malloc on) | HS overhead ms (malloc on) | HS term alone ms (malloc on) |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (arch, input, batch) in archOrder)
        {
            Group? Find(bool malloc, bool hs) => groups.FirstOrDefault(g => g.Arch == arch && g.Input == input && g.Batch == batch && g.Malloc == malloc && g.Hs == hs);
            string Speedup(bool hs) => Find(false, hs) is { } off && Find(true, hs) is { } on ? $"{off.Step.Median / on.Step.Median:F2}×" : "–";
            string overheadPct = "–", overheadMs = "–", alone = "–";
            if (Find(true, false) is { } hsOff && Find(true, true) is { } hsOn)
            {
                var delta = hsOn.Step.Median - hsOff.Step.Median;
                // The difference of two medians is only meaningful when it exceeds the run-to-run spread.
                var spread = Math.Max(hsOn.RunMax - hsOn.RunMin, hsOff.RunMax - hsOff.RunMin);
                var noise = Math.Abs(delta) <= spread ? $" (within run spread ±{F(spread)})" : "";
                overheadPct = $"{100 * delta / hsOff.Step.Median:+0.0;-0.0} %{noise}";
                overheadMs = $"{delta:+0.00;-0.00}";
                alone = F(hsOn.HsTerm.Median);
            }
            md.AppendLine($"| {arch} | {input} | {batch} | {Speedup(false)} | {Speedup(true)} | {overheadPct} | {overheadMs} | {alone} |");
        }
        md.AppendLine();
        md.AppendLine("\"HS term alone\" times `AddToGradients` inside the step (same process, same steps), so it is less exposed " +
                      "to run-to-run noise than the difference of two medians from different processes.");

        var text = md.ToString();
        Console.Write(text);
        if (output is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            File.WriteAllText(output, text);
        }
        return 0;
    }

    private sealed class Group
    {
        public Group(string arch, string input, int batch, bool malloc, bool hs, List<StepRow> rows)
        {
            (Arch, Input, Batch, Malloc, Hs, Rows) = (arch, input, batch, malloc, hs, rows);
            Step = Stats.Of(rows.SelectMany(r => r.StepMs).ToList());
            HsTerm = Stats.Of(rows.SelectMany(r => r.HsMs).ToList());
            var runMedians = rows.Select(r => Stats.Of(r.StepMs).Median).ToList();
            RunMin = runMedians.Min();
            RunMax = runMedians.Max();
            RssMb = Stats.Of(rows.Select(r => r.RssMb).ToList()).Median;
            PeakMb = Stats.Of(rows.Select(r => r.PeakRssMb).ToList()).Median;
        }

        public string Arch { get; }
        public string Input { get; }
        public int Batch { get; }
        public bool Malloc { get; }
        public bool Hs { get; }
        public List<StepRow> Rows { get; }
        public Stats Step { get; }
        public Stats HsTerm { get; }
        public double RunMin { get; }
        public double RunMax { get; }
        public double RssMb { get; }
        public double PeakMb { get; }
    }

    private static string OnOff(bool b) => b ? "on" : "off";
    private static string F(double v) => double.IsNaN(v) ? "–" : v.ToString(v >= 100 ? "F0" : v >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture);
    private static string Fmt0(double v) => double.IsNaN(v) ? "–" : v.ToString("F0", CultureInfo.InvariantCulture);
    private static string Trim(string? s) => s is null ? "unknown" : string.Join(" ", s.Trim().Split(' ').Take(3));
}
