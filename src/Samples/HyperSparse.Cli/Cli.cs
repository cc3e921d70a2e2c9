using System.Reflection;
using HyperSparse.Cli.Commands;
using Spectre.Console;

namespace HyperSparse.Cli;

/// <summary>The entry point, callable in-process (tests) with its own writers and cancellation.</summary>
public static class Cli
{
    private const string Usage = """
        hypersparse — sparse image classifiers for ML.NET (HyperSparse loss + Adaptive Regularized Training)

        usage: hypersparse <command> [options]        hypersparse <command> --help

          train          train, prune and export: model.zip, model.onnx, report.md/.json, plots, Consume.cs
          evaluate       accuracy, per-class table and confusion matrix of a model.zip on labelled images
          predict        label and top-3 probabilities for image files
          inspect        what a model.onnx or model.zip ships: per-layer sparsity, encoding and bytes, the bound, the input contract
          export-images  write an IDX dataset (e.g. Fashion-MNIST) as class-folder PNGs

        exit codes: 0 ok, 1 failure, 2 usage error, 130 cancelled
        """;

    /// <summary>Runs one command. <paramref name="stdout"/>/<paramref name="stderr"/> default to the console.</summary>
    public static int Run(string[] args, TextWriter? stdout = null, TextWriter? stderr = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        Training.OpenMpSettings.PreferPassiveWaiting();   // before anything loads libtorch
        var error = stderr ?? Console.Error;
        var interactive = stdout is null && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        var console = stdout is null && interactive
            ? AnsiConsole.Console
            : AnsiConsole.Create(new AnsiConsoleSettings
            {
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
                Out = new AnsiConsoleOutput(stdout ?? Console.Out),
            });
        if (!interactive) console.Profile.Width = 160;
        var cli = new CliContext(console, error, interactive, cancellation);

        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            console.WriteLine(Usage);
            return args.Length == 0 ? ExitCodes.Usage : ExitCodes.Success;
        }
        if (args[0] is "--version")
        {
            console.WriteLine(typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?");
            return ExitCodes.Success;
        }
        var command = args[0];
        var rest = args.Skip(1).ToArray();
        (Func<CliContext, IReadOnlyList<string>, int> run, string usage)? found = command switch
        {
            TrainCommand.Name => (TrainCommand.Run, TrainCommand.Usage),
            EvaluateCommand.Name => (EvaluateCommand.Run, EvaluateCommand.Usage),
            PredictCommand.Name => (PredictCommand.Run, PredictCommand.Usage),
            InspectCommand.Name => (InspectCommand.Run, InspectCommand.Usage),
            ExportImagesCommand.Name => (ExportImagesCommand.Run, ExportImagesCommand.Usage),
            _ => null,
        };
        if (found is null)
        {
            error.WriteLine($"hypersparse: unknown command '{command}'. Expected one of: train, evaluate, predict, inspect, export-images. Run 'hypersparse --help' for usage.");
            return ExitCodes.Usage;
        }
        if (rest.Any(a => a is "-h" or "--help"))
        {
            console.WriteLine(found.Value.usage);
            return ExitCodes.Success;
        }
        try
        {
            return found.Value.run(cli, rest);
        }
        catch (UsageException ex)
        {
            // One line: what is wrong (option, expected, found) and where the usage is.
            error.WriteLine($"hypersparse {ex.Message} Run 'hypersparse {command} --help' for usage.");
            return ExitCodes.Usage;
        }
        catch (Exception ex) when (cancellation.IsCancellationRequested && ex is OperationCanceledException)
        {
            error.WriteLine($"hypersparse {command}: cancelled.");
            return ExitCodes.Cancelled;
        }
        catch (Exception ex)
        {
            error.WriteLine($"hypersparse {command}: failed: {Describe(ex)}");
            if (Environment.GetEnvironmentVariable("HYPERSPARSE_CLI_STACK") == "1") error.WriteLine(ex);
            return ExitCodes.Failure;
        }
    }

    /// <summary>The innermost useful message (ML.NET wraps image and ONNX errors).</summary>
    private static string Describe(Exception ex)
    {
        var messages = new List<string>();
        for (var e = ex; e is not null; e = e.InnerException)
            if (!messages.Contains(e.Message)) messages.Add(e.Message);
        return string.Join(" → ", messages);
    }
}
