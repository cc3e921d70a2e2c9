using System.Globalization;
using Microsoft.ML.HyperSparse.Onnx;
using Onnx;
using AttributeType = Onnx.AttributeProto.Types.AttributeType;

namespace Microsoft.ML.HyperSparse.Engine.Pretrained;

/// <summary>
/// Reads the weights of an ImageNet ResNet with basic blocks (ResNet-18/34) from an ONNX file: a torchvision model exported
/// with <c>torch.onnx.export</c>, or one of our own exports of an <see cref="Models.ImageNetResNet"/>.
/// </summary>
/// <remarks>
/// Tensors are mapped by graph structure, not by name (torch names folded initializers like <c>onnx::Conv_193</c>): the 7×7
/// and 3×3 convs are the main path in graph order (ONNX requires topological order), stem first, each block's conv1 and
/// conv2 in turn; a 1×1 stride-2 conv is the projection shortcut of stage 2, 3 or 4 in graph order; a stride-2 conv1 starts
/// a stage, which is how the blocks per stage are counted. A conv read by a BatchNormalization (training-mode or
/// unfolded exports) gives both (a conv bias, if any, moves into the running mean); a conv with a bias and no batch norm (eval-mode exports fold BN into the conv, and so do
/// ours) gives its weight, and its bias becomes a batch norm that adds exactly that bias (<see cref="ResNetLayout.BiasAsNorm"/>).
/// The one Gemm (or MatMul + Add) is the classifier. Weights are taken as the graph computes them (<see cref="OnnxConstantFolder"/>),
/// so initializers behind Identity nodes and our sparse and int8 encodings read as well as plain ones.
/// </remarks>
internal static class TorchvisionOnnx
{
    /// <summary>A ResNet-34 is 87 MB in float32; reading stops above this bound before a byte is read.</summary>
    internal const long MaxFileBytes = 1L << 30;

    /// <summary>The batch norm ε of <see cref="Models.ImageNetResNet"/> (TorchSharp's and torchvision's default).</summary>
    internal const double Epsilon = 1e-5;

    /// <summary>What the error messages say the reader takes.</summary>
    internal const string Supported = "supported: ImageNet ResNets with basic blocks (ResNet-18/34) from torch.onnx.export or a HyperSparse export";

    /// <summary>Reads and parses <paramref name="path"/> and maps its tensors.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Too large, not ONNX, or not a supported ResNet; the message names the file and what did not fit.</exception>
    public static PretrainedWeights Read(string path)
    {
        string file = Path.GetFullPath(path);
        var info = new FileInfo(file);
        if (!info.Exists)
            throw new FileNotFoundException($"The ONNX file '{file}' does not exist.", file);
        if (info.Length > MaxFileBytes)
            throw Invalid(file, $"a file of {info.Length:N0} bytes; the limit is {MaxFileBytes:N0} bytes (a ResNet-34 is about 87 MB)");
        return Weights(OnnxModelReader.Parse(File.ReadAllBytes(file), file), file);
    }

    /// <summary>The tensors of a parsed file by torchvision name, with its preprocessing.</summary>
    /// <exception cref="InvalidDataException">The graph is not a supported ResNet; the message names the node and what was found.</exception>
    internal static PretrainedWeights Weights(ModelProto onnx, string source)
    {
        GraphProto graph = onnx.Graph;
        var folder = new OnnxConstantFolder(graph, OnnxModelReader.DefaultOpset(onnx) ?? OnnxModelWriter.OpsetVersion);
        OnnxContract? contract = OurContract(onnx, source);

        var readers = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (NodeProto node in graph.Node)
            foreach (string input in node.Input.Where(i => i.Length > 0))
                (readers.TryGetValue(input, out List<NodeProto>? list) ? list : readers[input] = []).Add(node);

        var main = new List<FoundConv>();
        var shortcuts = new List<FoundConv>();
        var pointwiseMain = new List<FoundConv>();
        foreach (NodeProto node in graph.Node.Where(n => n.OpType == "Conv"))
        {
            FoundConv conv = ReadConv(source, node, folder, readers);
            switch (conv.Kernel)
            {
                case 1 when conv.Stride == 2: shortcuts.Add(conv); break;
                case 1: pointwiseMain.Add(conv); break;
                case 3 or 7: main.Add(conv); break;
                default: throw Invalid(source, $"ONNX node '{conv.Label}' with a {conv.Kernel}×{conv.Kernel} kernel; {Supported}");
            }
        }
        if (pointwiseMain.Count > 0)
            throw Invalid(source, $"{pointwiseMain.Count} convolution(s) with 1×1 kernels in the main path (first: ONNX node " +
                $"'{pointwiseMain[0].Label}'), as a bottleneck ResNet (ResNet-50/101/152) has; {Supported}");
        int norms = graph.Node.Count(n => n.OpType == "BatchNormalization");
        int paired = main.Concat(shortcuts).Count(c => c.Norm is not null);
        if (norms != paired)
            throw Invalid(source, $"{norms} BatchNormalization nodes of which {paired} directly follow a convolution; {Supported}");

        IReadOnlyList<int> blocks = Blocks(source, main);
        var (mainTargets, shortcutTargets) = ResNetLayout.Convs(blocks);
        if (shortcuts.Count != shortcutTargets.Count)
            throw Invalid(source, $"{shortcuts.Count} 1×1 stride-2 (projection shortcut) convolutions for blocks [{Join(blocks)}], " +
                $"which have {shortcutTargets.Count}; {Supported}");

        var tensors = new Dictionary<string, PretrainedTensor>(StringComparer.Ordinal);
        foreach (var (conv, target) in main.Concat(shortcuts).Zip(mainTargets.Concat(shortcutTargets)))
        {
            if (conv.Stride != target.Stride)
                throw Invalid(source, $"ONNX node '{conv.Label}' with stride {conv.Stride} where {target.Conv} has stride {target.Stride}; {Supported}");
            tensors[$"{target.Conv}.weight"] = new PretrainedTensor(conv.Weight.Dims, conv.Weight.Floats!, conv.Origin);
            if (conv.Norm is { } norm)
            {
                for (int i = 0; i < ResNetLayout.NormTensors.Count; i++)
                {
                    ConstantTensor value = Constant(source, norm.Node, i + 1, folder);
                    float[] values = value.Floats!;
                    string origin = Origin(norm.Node, i + 1);
                    if (ResNetLayout.NormTensors[i] == "running_mean" && conv.Bias is { } convBias && convBias.Length == values.Length)
                    {
                        // The target conv has no bias: BN((x + b) − mean) = BN(x − (mean − b)), exactly.
                        values = values.Select((mean, c) => mean - convBias[c]).ToArray();
                        origin += $" minus the bias {Origin(conv.Node, 2)}";
                    }
                    tensors[$"{target.Norm}.{ResNetLayout.NormTensors[i]}"] = new PretrainedTensor(value.Dims, values, origin);
                }
            }
            else
            {
                // A conv with neither bias nor batch norm is one with a zero bias.
                float[] bias = conv.Bias ?? new float[conv.Weight.Dims[0]];
                string origin = conv.Bias is null ? $"{conv.Origin} (no bias: a zero one, as batch norm)" : $"{Origin(conv.Node, 2)} (the bias, as batch norm)";
                foreach (var (name, values) in ResNetLayout.BiasAsNorm(target.Norm, bias, Epsilon))
                    tensors[name] = new PretrainedTensor([values.Length], values, origin);
            }
        }

        if (Classifier(source, graph, folder, readers) is { } fc)
        {
            tensors["fc.weight"] = fc.Weight;
            tensors["fc.bias"] = fc.Bias;
        }

        int channels = (int)main[0].Weight.Dims[1];
        return new PretrainedWeights
        {
            Source = source,
            Format = contract is null
                ? $"torchvision ResNet ONNX export ({onnx.ProducerName} {onnx.ProducerVersion}, opset {OnnxModelReader.DefaultOpset(onnx)}); " +
                  "preprocessing assumed torchvision's ImageNet normalisation (the file states none)"
                : $"HyperSparse ONNX export ({contract.WeightEncoding}{(contract.Quantized ? ", int8" : "")}); preprocessing from its metadata",
            Blocks = blocks,
            InputChannels = channels,
            Tensors = tensors,
            Preprocessing = contract is null ? TorchvisionPreprocessing(source, channels) : Preprocessing(contract, channels, source),
        };
    }

    /// <summary>
    /// The preprocessing of one of our exports. The file takes raw pixels and computes <c>(raw · PixelScale − Mean) / Std</c>;
    /// <see cref="PretrainedPreprocessing"/> states the input on 0..1 pixels. Raw pixels are what the trainer saw: ML.NET's
    /// ExtractPixels bytes in 0–255 when the trainer scaled them (its automatic PixelScale is 1/255 exactly for pixels outside
    /// ±1.5), else pixels already in 0..1 (PixelScale 1). So raw = x01 · white with white = 255 when PixelScale &lt; 1 and 1
    /// otherwise, and ScaleFrom01 = white · PixelScale (1 for the usual 1/255), Mean and Std unchanged.
    /// </summary>
    internal static PretrainedPreprocessing Preprocessing(OnnxContract contract, int channels, string source)
    {
        if (contract.Mean.Length != channels || contract.Std.Length != channels)
            throw Invalid(source, $"metadata with {contract.Mean.Length} means and {contract.Std.Length} standard deviations for a first convolution reading {channels} channels");
        float white = contract.PixelScale < 1f ? 255f : 1f;
        string Floats(float[] values) => string.Join(", ", values.Select(v => v.ToString("G4", CultureInfo.InvariantCulture)));
        return new PretrainedPreprocessing(ChannelOrder.Rgb, white * contract.PixelScale, contract.Mean, contract.Std,
            string.Create(CultureInfo.InvariantCulture,
                $"as the file normalises: raw pixels × {contract.PixelScale:G6} (raw white {white}), mean ({Floats(contract.Mean)}), std ({Floats(contract.Std)})"));
    }

    private static PretrainedPreprocessing TorchvisionPreprocessing(string source, int channels) => channels == 3
        ? PretrainedPreprocessing.TorchvisionImageNet
        : throw Invalid(source, $"a first convolution reading {channels} channels and no preprocessing of its own; torchvision's ImageNet normalisation is for 3 (RGB)");

    /// <summary>Our contract when the file is one of our exports (producer name and metadata), else null.</summary>
    private static OnnxContract? OurContract(ModelProto onnx, string source)
    {
        var properties = onnx.MetadataProps.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        if (onnx.ProducerName != OnnxModelWriter.ProducerName || !properties.Keys.Any(k => k.StartsWith(OnnxContractMetadata.Prefix, StringComparison.Ordinal)))
            return null;
        OnnxContract contract;
        try
        {
            contract = OnnxContractMetadata.Read(properties);
        }
        catch (FormatException e)
        {
            throw Invalid(source, $"a HyperSparse export whose metadata does not read ({e.Message})");
        }
        if (contract.Shrunk.Count > 0 || contract.OtherParametersBeforeShrink is not null)
            throw Invalid(source, $"a HyperSparse export whose dead channels were removed (shrunk layers: {string.Join(", ", contract.Shrunk.Select(l => l.Layer))}), so its layers " +
                "no longer have ResNet shapes; export with the dead-channel shrink off to start from it");
        return contract;
    }

    /// <summary>A conv, its weight and bias as the graph computes them, and the batch norm that alone reads it.</summary>
    private sealed record FoundConv(NodeProto Node, string Label, string Origin, ConstantTensor Weight, float[]? Bias, int Kernel, int Stride, FoundNorm? Norm);

    private sealed record FoundNorm(NodeProto Node);

    private static FoundConv ReadConv(string source, NodeProto node, OnnxConstantFolder folder, Dictionary<string, List<NodeProto>> readers)
    {
        string label = OnnxConstantFolder.NodeLabel(node);
        ConstantTensor weight = Constant(source, node, 1, folder);
        if (weight.Dims.Length != 4 || weight.Dims[2] != weight.Dims[3])
            throw Invalid(source, $"ONNX node '{label}' with a weight of shape [{Join(weight.Dims)}]; expected a square 2-D kernel [out, in, k, k]; {Supported}");
        int kernel = (int)weight.Dims[2];
        float[]? bias = node.Input.Count > 2 && node.Input[2].Length > 0 ? Constant(source, node, 2, folder).Floats : null;
        if (bias is not null && bias.LongLength != weight.Dims[0])
            throw Invalid(source, $"ONNX node '{label}' with {bias.Length} biases for {weight.Dims[0]} output channels");

        long[] Ints(string name, long[] fallback) => node.Attribute.FirstOrDefault(a => a.Name == name) is { } a
            ? (a.Type == AttributeType.Int ? [a.I] : a.Ints.ToArray()) : fallback;
        long[] strides = Ints("strides", [1, 1]);
        long pad = kernel / 2;
        if (Ints("group", [1]) is not [1])
            throw Invalid(source, $"ONNX node '{label}' with group {Join(Ints("group", [1]))} (a grouped convolution); {Supported}");
        if (!Ints("dilations", [1, 1]).All(d => d == 1))
            throw Invalid(source, $"ONNX node '{label}' with dilations [{Join(Ints("dilations", [1, 1]))}]; {Supported}");
        if (strides.Length != 2 || strides[0] != strides[1] || strides[0] is not (1 or 2))
            throw Invalid(source, $"ONNX node '{label}' with strides [{Join(strides)}]; {Supported}");
        if (node.Attribute.FirstOrDefault(a => a.Name == "auto_pad") is { } autoPad && autoPad.S.ToStringUtf8() is not ("" or "NOTSET"))
            throw Invalid(source, $"ONNX node '{label}' with auto_pad {autoPad.S.ToStringUtf8()}; the target pads {pad} on every side");
        if (!Ints("pads", [0, 0, 0, 0]).SequenceEqual([pad, pad, pad, pad]))
            throw Invalid(source, $"ONNX node '{label}' with pads [{Join(Ints("pads", [0, 0, 0, 0]))}]; the target pads a {kernel}×{kernel} kernel by {pad} on every side");

        FoundNorm? norm = null;
        if (readers.GetValueOrDefault(node.Output[0]) is [{ OpType: "BatchNormalization" } reader])
        {
            CheckNorm(source, reader);
            norm = new FoundNorm(reader);
        }
        return new FoundConv(node, label, Origin(node, 1), weight, bias, kernel, (int)strides[0], norm);
    }

    /// <summary>ε must be the target's; opset ≤ 8 "spatial" must be 1; training-mode exports (extra outputs) are read for their running statistics.</summary>
    private static void CheckNorm(string source, NodeProto norm)
    {
        string label = OnnxConstantFolder.NodeLabel(norm);
        double epsilon = norm.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5;
        if (Math.Abs(epsilon - Epsilon) > 1e-6 * Epsilon + 1e-12)
            throw Invalid(source, $"ONNX node '{label}' with epsilon {epsilon.ToString(CultureInfo.InvariantCulture)}; the target batch norm uses {Epsilon.ToString(CultureInfo.InvariantCulture)}");
        if (norm.Attribute.FirstOrDefault(a => a.Name == "spatial") is { I: not 1 } spatial)
            throw Invalid(source, $"ONNX node '{label}' with spatial {spatial.I}; the target normalizes per channel");
    }

    /// <summary>
    /// Blocks per stage from the main path: the stem (7×7, stride 2), then pairs of 3×3 convs, one per block; a stride-2
    /// conv1 starts stages 2–4.
    /// </summary>
    private static IReadOnlyList<int> Blocks(string source, List<FoundConv> main)
    {
        if (main.Count == 0 || main[0].Kernel != 7 || main[0].Stride != 2)
            throw Invalid(source, main.Count == 0 ? $"no 7×7 or 3×3 convolutions; {Supported}"
                : $"a first convolution (ONNX node '{main[0].Label}') {main[0].Kernel}×{main[0].Kernel} with stride {main[0].Stride}, not the 7×7 stride-2 stem; {Supported}");
        List<FoundConv> body = main.Skip(1).ToList();
        if (body.FirstOrDefault(c => c.Kernel != 3) is { } other)
            throw Invalid(source, $"a second {other.Kernel}×{other.Kernel} convolution (ONNX node '{other.Label}') after the stem; {Supported}");
        if (body.Count % 2 != 0)
            throw Invalid(source, $"{body.Count} 3×3 convolutions, an odd number, where basic blocks have two each; {Supported}");
        var blocks = new List<int>();
        for (int i = 0; i < body.Count; i += 2)
        {
            if (body[i + 1].Stride != 1)
                throw Invalid(source, $"ONNX node '{body[i + 1].Label}' with stride {body[i + 1].Stride} as the second conv of a block; {Supported}");
            bool newStage = i == 0 || body[i].Stride == 2;
            if (i == 0 && body[i].Stride != 1)
                throw Invalid(source, $"ONNX node '{body[i].Label}' with stride {body[i].Stride} as the first conv of stage 1; {Supported}");
            if (newStage) blocks.Add(1); else blocks[^1]++;
        }
        if (blocks.Count != 4)
            throw Invalid(source, $"{blocks.Count} stages (blocks [{Join(blocks)}]) where an ImageNet ResNet has 4; {Supported}");
        return blocks;
    }

    /// <summary>The one classifier: a Gemm, or a MatMul with a constant matrix plus an Add of a constant bias.</summary>
    private static (PretrainedTensor Weight, PretrainedTensor Bias)? Classifier(string source, GraphProto graph, OnnxConstantFolder folder,
        Dictionary<string, List<NodeProto>> readers)
    {
        var layers = graph.Node.Where(n => n.OpType is "Gemm" || (n.OpType == "MatMul" && n.Input.Count > 1 && folder.IsConstant(n.Input[1]))).ToList();
        if (layers.Count == 0) return null;
        if (layers.Count > 1)
            throw Invalid(source, $"{layers.Count} fully connected layers (Gemm/MatMul: '{string.Join("', '", layers.Select(OnnxConstantFolder.NodeLabel))}') where a ResNet has one classifier; {Supported}");
        NodeProto node = layers[0];
        string label = OnnxConstantFolder.NodeLabel(node);
        ConstantTensor matrix = Constant(source, node, 1, folder);
        if (matrix.Dims.Length != 2)
            throw Invalid(source, $"ONNX node '{label}' with a weight of shape [{Join(matrix.Dims)}]; expected a matrix");
        bool transposed; // true: stored [out, in] as fc.weight is
        float[]? bias = null;
        string biasOrigin;
        if (node.OpType == "Gemm")
        {
            float Float(string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.F ?? 1f;
            long Int(string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? 0;
            if (Int("transA") != 0 || Float("alpha") != 1f || Float("beta") != 1f)
                throw Invalid(source, $"ONNX node '{label}' with transA {Int("transA")}, alpha {Float("alpha")}, beta {Float("beta")}; the classifier reads x·Wᵀ + b (transA 0, alpha 1, beta 1)");
            transposed = Int("transB") == 1;
            if (node.Input.Count > 2 && node.Input[2].Length > 0)
                bias = Constant(source, node, 2, folder).Floats;
            biasOrigin = Origin(node, 2);
        }
        else
        {
            transposed = false;
            biasOrigin = $"the Add after ONNX node '{label}'";
            if (readers.GetValueOrDefault(node.Output[0]) is [{ OpType: "Add" } add])
            {
                int other = add.Input[0] == node.Output[0] ? 1 : 0;
                if (folder.IsConstant(add.Input[other]))
                    bias = Constant(source, add, other, folder).Floats;
            }
        }
        long outputs = transposed ? matrix.Dims[0] : matrix.Dims[1], inputs = transposed ? matrix.Dims[1] : matrix.Dims[0];
        float[] weight = transposed ? matrix.Floats! : Transpose(matrix.Floats!, (int)inputs, (int)outputs);
        bias ??= new float[outputs];
        if (bias.LongLength != outputs)
            throw Invalid(source, $"ONNX node '{label}' with {bias.Length} biases for {outputs} outputs");
        return (new PretrainedTensor([outputs, inputs], weight, Origin(node, 1) + (transposed ? "" : " (transposed)")),
            new PretrainedTensor([outputs], bias, biasOrigin));
    }

    private static float[] Transpose(float[] values, int rows, int columns)
    {
        var result = new float[values.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                result[c * rows + r] = values[r * columns + c];
        return result;
    }

    /// <summary>A node's input as the graph computes it from constants, as float32.</summary>
    private static ConstantTensor Constant(string source, NodeProto node, int input, OnnxConstantFolder folder)
    {
        string label = OnnxConstantFolder.NodeLabel(node);
        if (input >= node.Input.Count || node.Input[input].Length == 0 || !folder.IsConstant(node.Input[input]))
            throw Invalid(source, $"ONNX node '{label}' whose input {input} is not a constant (weights must be in the file)");
        ConstantTensor value;
        try
        {
            value = folder.Evaluate(node.Input[input]);
        }
        catch (OnnxEvaluationException e)
        {
            throw Invalid(source, $"ONNX node '{label}' whose input '{node.Input[input]}' cannot be read: {e.Message}");
        }
        if (!value.IsFloat)
            throw Invalid(source, $"ONNX node '{label}' whose input '{node.Input[input]}' is of element type {value.Type}; expected float");
        return value;
    }

    private static string Origin(NodeProto node, int input) =>
        $"ONNX node '{OnnxConstantFolder.NodeLabel(node)}' input {input} ('{(input < node.Input.Count ? node.Input[input] : "")}')";

    private static string Join<T>(IEnumerable<T> values) => string.Join(", ", values);

    private static InvalidDataException Invalid(string source, string found) =>
        new($"Cannot load ResNet weights from the ONNX file '{source}': found {found}.");
}
