namespace HyperSparse.Cli.Tests;

/// <summary>Runs the CLI's entry point in-process and captures what it writes.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Out}\n--- stderr ---\n{Error}";
    }

    public static Result Run(params string[] args) => Run(args, null, default);

    public static Result Run(string[] args, TextWriter? stdout, CancellationToken cancellation)
    {
        var output = stdout ?? new StringWriter();
        var error = new StringWriter();
        var code = Cli.Run(args, output, error, cancellation);
        return new Result(code, output.ToString() ?? "", error.ToString());
    }

    /// <summary>The Fashion-MNIST IDX folder (Debian package dataset-fashion-mnist, or HYPERSPARSE_FASHION_MNIST_DIR).</summary>
    public static string FashionMnist()
    {
        var overridden = Environment.GetEnvironmentVariable("HYPERSPARSE_FASHION_MNIST_DIR");
        var dir = string.IsNullOrWhiteSpace(overridden) ? "/usr/share/datasets/fashion-mnist" : overridden;
        if (!Directory.Exists(dir)) Assert.Inconclusive($"Fashion-MNIST not found at '{dir}' (install dataset-fashion-mnist or set HYPERSPARSE_FASHION_MNIST_DIR).");
        return dir;
    }

    public static string TempFolder(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), prefix + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }
}

/// <summary>A writer that calls back on every line (to act when training reaches a point).</summary>
internal sealed class WatchingWriter(Action<string> onLine) : StringWriter
{
    private readonly System.Text.StringBuilder line = new();

    public override void Write(char value)
    {
        base.Write(value);
        if (value == '\n') { onLine(line.ToString()); line.Clear(); }
        else line.Append(value);
    }

    public override void Write(string? value)
    {
        foreach (var c in value ?? "") Write(c);
    }

    public override void WriteLine(string? value)
    {
        Write(value);
        Write('\n');
    }
}
