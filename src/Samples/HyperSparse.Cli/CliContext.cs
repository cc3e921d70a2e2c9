using Spectre.Console;

namespace HyperSparse.Cli;

/// <summary>Exit codes: 0 success, 1 failure while running, 2 usage error, 130 cancelled (Ctrl+C).</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int Cancelled = 130;
}

/// <summary>Where a command writes and what stops it: the console (or test writers) and Ctrl+C.</summary>
internal sealed class CliContext(IAnsiConsole output, TextWriter error, bool interactive, CancellationToken cancellation)
{
    public IAnsiConsole Out { get; } = output;
    public TextWriter Error { get; } = error;
    /// <summary>True on a terminal that can redraw progress bars.</summary>
    public bool Interactive { get; } = interactive;
    public CancellationToken Cancellation { get; } = cancellation;
}
