using System.Runtime.InteropServices;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Onnx;
using Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.HyperSparse.Engine.Pretrained;

/// <summary>
/// Loads the ImageNet-trained ResNet-18 that ML.NET ships (NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18, a CNTK export)
/// into an <see cref="ImageNetResNet"/> with blocks [2, 2, 2, 3]. The file ends at the pooled 512 features, so only the
/// convolutions and batch norms are copied; the classifier keeps its initialisation.
/// </summary>
/// <remarks>
/// ML.NET feeds this network RGB pixels in 0–255 turned into BGR minus a mean image (ResNetPreprocess.onnx), unscaled.
/// CNTK pads its stride-2 layers per side; on even map sizes that computes what our symmetric padding does (see
/// <see cref="ImageNetResNet"/>), so the pads are not copied.
/// </remarks>
internal static class MLNetResNet18
{
    /// <summary>The NuGet package that ships the file.</summary>
    public const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";

    /// <summary>The package version built for ML.NET 6 (0.23.1, for ML.NET 5, ships the same file).</summary>
    public const string PackageVersion = "0.24.0";

    /// <summary>The graph's input [1, 3, 224, 224] and its pooled-features output [1, 512, 1, 1].</summary>
    public const string InputName = "Input247", FeaturesName = "Pooling395_Output_0";

    /// <summary>The blocks per stage the file has: one more in the last stage than torchvision's ResNet-18.</summary>
    public static IReadOnlyList<int> Blocks => ImageNetResNet.ResNet18MLNetBlocks;

    /// <summary>Where the package puts the file, below its tools/ folder and below the app's output folder.</summary>
    public static readonly string RelativePath = Path.Combine("DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

    /// <summary>The file is 63.7 MB; reading is refused above this, so a wrong path cannot make us load gigabytes.</summary>
    internal const long MaxFileBytes = 128L << 20;

    /// <summary>
    /// Finds ResNet18.onnx: <paramref name="path"/> when given, else the app's output folder (where the package's build
    /// props copy it), else the NuGet global packages folder (version <see cref="PackageVersion"/> first).
    /// </summary>
    /// <exception cref="FileNotFoundException">Not found; the message names the package to reference and every place searched.</exception>
    public static string Locate(string? path = null) => Locate(path, AppContext.BaseDirectory, NuGetRoots());

    internal static string Locate(string? path, string appBase, IEnumerable<string> nugetRoots)
    {
        // An explicit path asks for that file: falling back to another copy would hide a wrong path.
        IEnumerable<string> candidates = path is not null ? [path] : Candidates(appBase, nugetRoots);
        var searched = new List<string>();
        foreach (string candidate in candidates)
        {
            if (File.Exists(candidate))
                return Path.GetFullPath(candidate);
            searched.Add(candidate);
        }

        throw new FileNotFoundException(
            $"ML.NET's pretrained ResNet-18 ({Path.GetFileName(RelativePath)}) was not found. It ships in the NuGet package " +
            $"{PackageId}; reference it from the application (dotnet add package {PackageId} --version {PackageVersion}), " +
            $"whose build copies {Path.GetDirectoryName(RelativePath)} into the output folder. Searched: {string.Join("; ", searched)}.",
            searched.FirstOrDefault());
    }

    /// <summary>NuGet's global packages folder as NuGet resolves it: NUGET_PACKAGES, then MSBuild's NuGetPackageRoot, then ~/.nuget/packages.</summary>
    internal static IReadOnlyList<string> NuGetRoots()
    {
        var roots = new List<string>();
        foreach (string variable in new[] { "NUGET_PACKAGES", "NuGetPackageRoot" })
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } root)
                roots.Add(root);
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (home.Length > 0)
            roots.Add(Path.Combine(home, ".nuget", "packages"));
        return roots.Distinct().ToList();
    }

    private static IEnumerable<string> Candidates(string appBase, IEnumerable<string> nugetRoots)
    {
        yield return Path.Combine(appBase, RelativePath);
        foreach (string root in nugetRoots)
        {
            // The global packages folder stores ids and versions in lower case.
            string package = Path.Combine(root, PackageId.ToLowerInvariant());
            yield return Path.Combine(package, PackageVersion, "tools", RelativePath);
            if (!Directory.Exists(package))
                continue;
            // Any other version, newest first: all released versions ship the same weights.
            IEnumerable<string> others = Directory.GetDirectories(package).Select(Path.GetFileName).OfType<string>()
                .Where(v => v != PackageVersion)
                .OrderByDescending(v => System.Version.TryParse(v, out System.Version? parsed) ? parsed : new System.Version());
            foreach (string version in others)
                yield return Path.Combine(package, version, "tools", RelativePath);
        }
    }

    /// <summary>Reads and parses the file, refusing anything far larger than the real one before reading it.</summary>
    public static ModelProto Read(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes)
            throw new InvalidDataException(
                $"'{path}' is {length:N0} bytes; ML.NET's ResNet-18 is about 64 MB, so this is not that file (limit {MaxFileBytes:N0} bytes).");
        return OnnxModelReader.Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Copies the file's weights into <paramref name="model"/> as the file has them (BGR input); see <see cref="Locate(string?)"/> for <paramref name="path"/>.</summary>
    public static void Load(ImageNetResNet model, string? path = null)
    {
        CheckTarget(model); // before reading 64 MB
        PretrainedLoader.Apply(model, ReadWeights(path), keepHead: false, readRgb: false);
    }

    /// <summary>Copies the weights of a parsed file as the file has them (BGR input).</summary>
    internal static void Load(ImageNetResNet model, ModelProto onnx, string source)
    {
        CheckTarget(model);
        PretrainedLoader.Apply(model, Weights(onnx, source, DefaultBgrMeans), keepHead: false, readRgb: false);
    }

    /// <summary>
    /// Reads the file (see <see cref="Locate(string?)"/>) and, beside it in the package, ResNetPreprocess.onnx for the channel
    /// means of its mean image.
    /// </summary>
    public static PretrainedWeights ReadWeights(string? path = null)
    {
        string file = Locate(path);
        return Weights(Read(file), file, ChannelMeans(file));
    }

    /// <summary>
    /// The B, G, R means of ML.NET's 224×224 mean image (ResNetPreprocess.onnx), to two decimals; <see cref="ChannelMeans"/>
    /// reads them exactly when the package's preprocessing file is beside the weights.
    /// </summary>
    internal static readonly float[] DefaultBgrMeans = [103.06f, 115.90f, 123.15f];

    /// <summary>Where the package keeps the preprocessing file, relative to ResNet18.onnx.</summary>
    internal static string PreprocessPath(string weightsFile) =>
        Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(weightsFile)))!, "ResNetPrepOnnx", "ResNetPreprocess.onnx");

    /// <summary>
    /// The per-channel means (B, G, R) of the mean image in ResNetPreprocess.onnx beside <paramref name="weightsFile"/>: its one
    /// float initializer of 3·224·224 values. <see cref="DefaultBgrMeans"/> when the file is not there or has no such tensor.
    /// </summary>
    internal static float[] ChannelMeans(string weightsFile)
    {
        string prep = PreprocessPath(weightsFile);
        var info = new FileInfo(prep);
        if (!info.Exists || info.Length > MaxFileBytes) return DefaultBgrMeans;
        ModelProto model = OnnxModelReader.Parse(File.ReadAllBytes(prep), prep);
        const int Plane = 224 * 224;
        foreach (TensorProto t in model.Graph.Initializer)
        {
            if (t.DataType != (int)DataType.Float || t.Dims.Aggregate(1L, (p, d) => p * d) != 3L * Plane) continue;
            float[] values = t.RawData.Length == 3 * Plane * sizeof(float) ? MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray()
                : t.FloatData.Count == 3 * Plane ? t.FloatData.ToArray() : [];
            if (values.Length == 0) continue;
            var means = new float[3];
            for (int c = 0; c < 3; c++)
            {
                double sum = 0;
                for (int i = 0; i < Plane; i++) sum += values[c * Plane + i];
                means[c] = (float)(sum / Plane);
            }
            return means;
        }
        return DefaultBgrMeans;
    }

    /// <summary>
    /// The tensors of a parsed file by torchvision name. Convs are paired with the BatchNormalization that reads their output;
    /// in graph order (which ONNX requires to be topological) the 7×7 and 3×3 convs are the main path, stem first, and the 1×1
    /// convs are the projection shortcuts of stages 2–4, so neither depends on where CNTK placed a shortcut among the blocks.
    /// </summary>
    /// <exception cref="InvalidDataException">The graph does not match; the message names the ONNX node and what was found.</exception>
    internal static PretrainedWeights Weights(ModelProto onnx, string source, float[] bgrMeans)
    {
        GraphProto graph = onnx.Graph;
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (TensorProto tensor in graph.Initializer)
            initializers[tensor.Name] = tensor;
        var normByInput = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (NodeProto node in graph.Node.Where(n => n.OpType == "BatchNormalization"))
            normByInput[node.Input[0]] = node;

        var main = new List<(NodeProto Conv, NodeProto Norm)>();
        var shortcuts = new List<(NodeProto Conv, NodeProto Norm)>();
        foreach (NodeProto conv in graph.Node.Where(n => n.OpType == "Conv"))
        {
            if (!normByInput.TryGetValue(conv.Output[0], out NodeProto? norm))
                throw Invalid(source, $"ONNX node '{OnnxConstantFolder.NodeLabel(conv)}' is a Conv no BatchNormalization reads");
            TensorProto weight = Initializer(source, conv, 1, initializers);
            bool pointwise = weight.Dims.Count == 4 && weight.Dims[2] == 1 && weight.Dims[3] == 1;
            (pointwise ? shortcuts : main).Add((conv, norm));
        }

        var (mainTargets, shortcutTargets) = ResNetLayout.Convs(Blocks);
        if (main.Count != mainTargets.Count || shortcuts.Count != shortcutTargets.Count || normByInput.Count != main.Count + shortcuts.Count)
            throw Invalid(source,
                $"a graph with {main.Count} 7×7/3×3 convs, {shortcuts.Count} 1×1 convs and {normByInput.Count} batch norms; " +
                $"ResNet-18 with blocks [{string.Join(", ", Blocks)}] has {mainTargets.Count}, {shortcutTargets.Count} and " +
                $"{mainTargets.Count + shortcutTargets.Count}");

        var tensors = new Dictionary<string, PretrainedTensor>(StringComparer.Ordinal);
        foreach (var ((conv, norm), target) in main.Concat(shortcuts).Zip(mainTargets.Concat(shortcutTargets)))
        {
            CheckConv(source, conv, target.Stride);
            tensors[$"{target.Conv}.weight"] = Tensor(source, conv, Initializer(source, conv, 1, initializers));
            CheckNorm(source, norm);
            // ONNX BatchNormalization inputs: X, scale, B, mean, var.
            for (int i = 0; i < ResNetLayout.NormTensors.Count; i++)
                tensors[$"{target.Norm}.{ResNetLayout.NormTensors[i]}"] = Tensor(source, norm, Initializer(source, norm, i + 1, initializers));
        }
        return new PretrainedWeights
        {
            Source = source,
            Format = $"ML.NET's ImageNet ResNet-18 (CNTK ONNX from NuGet {PackageId})",
            Blocks = Blocks,
            InputChannels = 3,
            Tensors = tensors,
            Preprocessing = PretrainedPreprocessing.Cntk(bgrMeans),
        };
    }

    private static void CheckTarget(ImageNetResNet model)
    {
        if (!model.BlocksPerStage.SequenceEqual(Blocks) || model.Input.Channels != 3)
            throw new ArgumentException(
                $"ML.NET's ResNet-18 needs an ImageNetResNet with blocks [{string.Join(", ", Blocks)}] and 3 input channels; " +
                $"got blocks [{string.Join(", ", model.BlocksPerStage)}] and {model.Input.Channels} channels.", nameof(model));
    }

    /// <summary>Our convs have no bias, no groups or dilation, and the stride the block needs: anything else would compute differently.</summary>
    private static void CheckConv(string source, NodeProto conv, int stride)
    {
        string label = OnnxConstantFolder.NodeLabel(conv);
        if (conv.Input.Count > 2 && conv.Input[2].Length > 0)
            throw Invalid(source, $"ONNX node '{label}' with a bias; the target conv has none");
        foreach (AttributeProto attribute in conv.Attribute)
        {
            long[] expected = attribute.Name switch
            {
                "strides" => [stride, stride],
                "dilations" => [1, 1],
                "group" => [1],
                _ => [],
            };
            long[] found = attribute.Type == AttributeProto.Types.AttributeType.Int ? [attribute.I] : attribute.Ints.ToArray();
            if (expected.Length > 0 && !found.SequenceEqual(expected))
                throw Invalid(source, $"ONNX node '{label}' with {attribute.Name} [{string.Join(", ", found)}]; the target expects [{string.Join(", ", expected)}]");
        }
        if (stride != 1 && !conv.Attribute.Any(a => a.Name == "strides"))
            throw Invalid(source, $"ONNX node '{label}' with stride 1; the target expects {stride}");
    }

    /// <summary>ε must match (ONNX's default is 1e-5, as TorchSharp's); opset-8 "spatial" must be 1 (per-channel statistics).</summary>
    private static void CheckNorm(string source, NodeProto norm)
    {
        const double TargetEpsilon = 1e-5; // ImageNetResNet's BatchNorm2d (TorchSharp's default)
        string label = OnnxConstantFolder.NodeLabel(norm);
        AttributeProto? epsilon = norm.Attribute.FirstOrDefault(a => a.Name == "epsilon");
        double found = epsilon?.F ?? 1e-5;
        if (Math.Abs(found - TargetEpsilon) > 1e-6 * TargetEpsilon + 1e-12)
            throw Invalid(source, $"ONNX node '{label}' with epsilon {found}; the target batch norm uses {TargetEpsilon}");
        AttributeProto? spatial = norm.Attribute.FirstOrDefault(a => a.Name == "spatial");
        if (spatial is not null && spatial.I != 1)
            throw Invalid(source, $"ONNX node '{label}' with spatial {spatial.I}; the target normalizes per channel");
    }

    private static TensorProto Initializer(string source, NodeProto node, int input, Dictionary<string, TensorProto> initializers) =>
        input < node.Input.Count && initializers.TryGetValue(node.Input[input], out TensorProto? tensor)
            ? tensor
            : throw Invalid(source, $"ONNX node '{OnnxConstantFolder.NodeLabel(node)}' whose input {input} is not an initializer");

    private static PretrainedTensor Tensor(string source, NodeProto node, TensorProto proto) =>
        new(proto.Dims.ToArray(), Floats(source, node, proto), $"ONNX node '{OnnxConstantFolder.NodeLabel(node)}' with tensor '{proto.Name}'");

    private static float[] Floats(string source, NodeProto node, TensorProto tensor)
    {
        long count = tensor.Dims.Aggregate(1L, (product, dim) => product * dim);
        string label = $"ONNX node '{OnnxConstantFolder.NodeLabel(node)}' with tensor '{tensor.Name}'";
        if (tensor.DataType != (int)DataType.Float || tensor.DataLocation == TensorProto.Types.DataLocation.External)
            throw Invalid(source, $"{label} of data type {tensor.DataType}{(tensor.DataLocation == TensorProto.Types.DataLocation.External ? " stored externally" : "")}; expected inline float32");
        if (tensor.RawData.Length > 0)
        {
            // raw_data is little-endian; so is every host TorchSharp runs on.
            if (tensor.RawData.Length != count * sizeof(float))
                throw Invalid(source, $"{label} of shape [{string.Join(", ", tensor.Dims)}] holding {tensor.RawData.Length} bytes for {count} floats");
            return MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray();
        }
        if (tensor.FloatData.Count != count)
            throw Invalid(source, $"{label} of shape [{string.Join(", ", tensor.Dims)}] holding {tensor.FloatData.Count} floats for {count}");
        return tensor.FloatData.ToArray();
    }

    private static InvalidDataException Invalid(string source, string found) =>
        new($"Cannot load ML.NET's ResNet-18 from '{source}': found {found}.");
}
