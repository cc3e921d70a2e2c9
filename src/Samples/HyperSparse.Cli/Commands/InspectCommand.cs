using Microsoft.ML.HyperSparse;

namespace HyperSparse.Cli.Commands;

/// <summary>
/// <c>hypersparse inspect</c>: what a model file ships, read from the file alone by the library's
/// <see cref="HyperSparseModelInfo"/> (no TorchSharp, no training log): per layer name, op, shape, kept weights, sparsity,
/// encoding and bytes; the totals against the dense file and the information bound; the input contract.
/// </summary>
internal static class InspectCommand
{
    public const string Name = "inspect";

    public static readonly OptionSpec[] Options =
    {
        new("--json", "no value", IsFlag: true),
    };

    public const string Usage = """
        hypersparse inspect <model.onnx|model.zip> [--json]

          <file>                 a model.onnx, or an ML.NET model.zip holding one (recognised by content, not extension)
          --json                 print the figures as JSON instead of a table

        Per layer: name, op, shape, weights, kept, sparsity, encoding, bytes and information bound (layers kept dense with
        'train --keep-dense' are starred: not pruned, not in the pruned totals), and the channels the exporter's dead-channel
        shrink removed (unless trained with --no-shrink). Then the totals against the same model stored dense and against
        the bound (of the network as trained), and the input contract: input name and shape, pixel scale and the mean/std
        normalisation baked into the model, classes and outputs.
        """;

    public static int Run(CliContext cli, IReadOnlyList<string> args)
    {
        var line = CommandLine.Parse(Name, args, Options, allowPositional: true);
        if (line.Positional.Count != 1)
            throw new UsageException(line.Positional.Count == 0
                ? $"{Name}: expected a model file (model.onnx or model.zip) after the command, found none."
                : $"{Name}: expected one model file, found {line.Positional.Count}: {string.Join(", ", line.Positional.Select(CommandLine.Quote))}.");
        var path = line.Positional[0];

        HyperSparseModelInfo info;
        try
        {
            info = HyperSparseModelInfo.Read(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidDataException or UnauthorizedAccessException or IOException)
        {
            // The library's messages say what was expected and what was found; a wrong input is a usage error, as in evaluate.
            throw new UsageException($"{Name}: {ex.Message.ReplaceLineEndings(" ")}");
        }

        var output = cli.Out.Profile.Out.Writer;
        output.Write(line.Flag("--json") ? info.ToJson() + "\n" : info.ToString());
        output.Flush();
        return ExitCodes.Success;
    }
}
