using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>The weight of one convolution or linear layer, as the writer hands it to <see cref="WeightEmitter"/>.</summary>
/// <param name="Layer">Layer (node) name.</param>
/// <param name="OpType">"Conv" or "Gemm".</param>
/// <param name="Shape">Weight shape, output channels first.</param>
/// <param name="Weight">Row-major float weights (after batch-norm folding).</param>
/// <param name="Prunable">Whether the layer is one of the pruned ones (only those get a sparse encoding).</param>
/// <param name="TensorName">Name of the tensor the layer's operator reads as its weight.</param>
internal sealed record WeightSpec(string Layer, string OpType, long[] Shape, float[] Weight, bool Prunable, string TensorName);

/// <summary>How one layer's weight was written.</summary>
/// <param name="TensorName">The tensor the layer's operator reads.</param>
/// <param name="Encoding">The encoding actually used.</param>
/// <param name="Quantized">Whether the weight is stored as int8 with per-channel scales.</param>
/// <param name="Weight">The float values the graph computes for the weight (the dequantised values when quantised).</param>
internal sealed record EmittedWeight(string TensorName, OnnxWeightEncoding Encoding, bool Quantized, float[] Weight);

/// <summary>
/// Adds every layer weight to a graph in the requested encoding. <see cref="OnnxWeightEncoding.Compact"/> stores the kept
/// values of all sparse layers in one tensor and their positions in one <see cref="RiceGapCode"/> stream, decoded by one
/// chain of standard operators and split into layers at the end, so the per-layer cost is a split entry and a Reshape.
/// A layer goes dense wherever that is smaller (dense or tiny layers) or it is not prunable.
/// </summary>
/// <remarks>
/// With <c>quantize</c>, every weight is stored as per-output-channel symmetric int8 (<see cref="Int8Quantizer"/>) and rebuilt
/// as Cast(int8 → float) · scale — Cast and Mul, which ONNX Runtime folds at load like the rest of the chain (unlike
/// DequantizeLinear, which it keeps for QDQ fusion). With <see cref="OnnxQuantization.Full"/> a convolution's int8 tensor
/// itself is rebuilt (the Compact chain scatters int8 levels into an int8 zero tensor) and handed to <c>DequantizeLinear</c>
/// (axis 0, zero point 0, one scale per output channel, an all-zero channel included): ONNX Runtime folds the chain into an
/// int8 initializer at session creation and fuses that DequantizeLinear with its Conv into QLinearConv. Gemm weights stay
/// Cast · scale: ONNX Runtime 1.32 did not fuse a QDQ Gemm (per-channel int8 weight, int32 bias) into QGemm, and an unfused
/// DequantizeLinear would run at every inference.
/// </remarks>
internal sealed class WeightEmitter
{
    // Layer cost estimates used to choose dense or shared storage: a Reshape node plus a split entry, and a tensor header.
    private const int StreamLayerOverhead = 24;
    private const int DenseLayerOverhead = 12;

    private readonly GraphProto graph;
    private readonly Func<string, string> name;
    private readonly Dictionary<string, string> constants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> scaleTensors = new(StringComparer.Ordinal);

    // Full int8: convolution weights go through DequantizeLinear (1-D scales for every such layer) instead of Cast · scale.
    private bool fullInt8;

    /// <summary>Whether <paramref name="layer"/>'s int8 levels go through DequantizeLinear (full int8 convolutions).</summary>
    private bool Dequantizes(WeightSpec layer) => fullInt8 && layer.OpType == "Conv";

    private WeightEmitter(GraphProto graph, Func<string, string> name)
    {
        this.graph = graph;
        this.name = name;
    }

    /// <summary>
    /// Appends the weights' initializers and decode nodes to <paramref name="graph"/> (before any node that reads them) and
    /// returns, per layer in order, what was written. <paramref name="name"/> makes a fresh unique tensor name from a hint.
    /// </summary>
    public static IReadOnlyList<EmittedWeight> Emit(GraphProto graph, IReadOnlyList<WeightSpec> layers, OnnxWeightEncoding encoding,
        OnnxQuantization quantization, Func<string, string> name)
    {
        bool quantize = quantization != OnnxQuantization.None;
        var emitter = new WeightEmitter(graph, name) { fullInt8 = quantization == OnnxQuantization.Full };
        // int8: every channel's scale is rounded up to one of 256 shared values, so a channel stores a byte, not a float32.
        Int8ScaleTable? table = null;
        if (quantize)
        {
            float top = layers.SelectMany(l => Int8Quantizer.Scales(l.Weight, checked((int)l.Shape[0]))).DefaultIfEmpty(0f).Max();
            // DequantizeLinear needs scales even when every weight is zero: any table will do.
            table = top > 0f ? Int8ScaleTable.For(top) : quantization == OnnxQuantization.Full && layers.Count > 0 ? Int8ScaleTable.For(1f) : null;
        }

        var stored = layers.Select(l => Stored.From(l, quantize, table, emitter.Dequantizes(l))).ToList();
        if (table is not null)
            emitter.EmitScales(layers, stored, table);
        var result = new EmittedWeight?[layers.Count];
        var streamed = new List<int>();
        for (int i = 0; i < layers.Count; i++)
        {
            WeightSpec layer = layers[i];
            OnnxWeightEncoding chosen = !layer.Prunable ? OnnxWeightEncoding.Dense : encoding switch
            {
                OnnxWeightEncoding.Compact when StreamCost(stored[i]) < DenseCost(stored[i]) => OnnxWeightEncoding.Compact,
                OnnxWeightEncoding.SparseInitializer when SparseCost(stored[i]) < DenseCost(stored[i]) => OnnxWeightEncoding.SparseInitializer,
                _ => OnnxWeightEncoding.Dense,
            };
            if (chosen == OnnxWeightEncoding.Compact)
            {
                streamed.Add(i);
                continue;
            }

            string raw = chosen == OnnxWeightEncoding.Dense ? emitter.Dense(layer, stored[i]) : emitter.Sparse(layer, stored[i]);
            if (emitter.Dequantizes(layer))
            {
                emitter.Dequantize(layer, stored[i], raw);
            }
            else if (quantize)
            {
                string asFloat = name("f");
                graph.Node.Add(Cast(raw, asFloat, DataType.Float));
                emitter.Dequantize(layer, stored[i], asFloat);
            }
            result[i] = new EmittedWeight(layer.TensorName, chosen, quantize, stored[i].Effective);
        }

        if (streamed.Count > 0)
        {
            emitter.Stream(streamed.Select(i => (layers[i], stored[i])).ToList());
            foreach (int i in streamed)
                result[i] = new EmittedWeight(layers[i].TensorName, OnnxWeightEncoding.Compact, quantize, stored[i].Effective);
        }

        return result.Select(r => r!).ToList();
    }

    /// <summary>A layer's values as stored: float weights, or int8 levels with one scale per output channel.</summary>
    private sealed record Stored(long Count, long Kept, float[]? Floats, sbyte[]? Levels, float[]? Scales, float[] Effective)
    {
        public int ValueBytes => Levels is null ? 4 : 1;

        public static Stored From(WeightSpec layer, bool quantize, Int8ScaleTable? table, bool everyScalePositive)
        {
            long kept = layer.Weight.LongCount(w => w != 0f);
            if (!quantize)
                return new Stored(layer.Weight.LongLength, kept, layer.Weight, null, null, layer.Weight);
            (sbyte[] levels, float[] scales) = Int8Quantizer.Quantize(layer.Weight, checked((int)layer.Shape[0]), table is null ? null : table.RoundUp);
            // DequantizeLinear and ONNX Runtime's int8 kernels divide by the scale: an all-zero channel gets the table's smallest
            // entry (any positive value would do; its levels are all 0).
            if (everyScalePositive)
                scales = scales.Select(v => v > 0f ? v : table?.Values.Min() ?? 1f).ToArray();
            return new Stored(layer.Weight.LongLength, kept, null, levels, scales, Int8Quantizer.Dequantize(levels, scales));
        }

        /// <summary>Positions and the stored value (float bits or int8 level) of each kept weight.</summary>
        public IEnumerable<int> KeptPositions()
        {
            for (int i = 0; i < Effective.Length; i++)
                if (Effective[i] != 0f)
                    yield return i;
        }
    }

    private static double DenseCost(Stored s) => s.Count * s.ValueBytes + DenseLayerOverhead;

    private static double StreamCost(Stored s) =>
        s.Kept * s.ValueBytes + s.Count * OnnxSizeReport.BinaryEntropy((double)s.Kept / s.Count) / 8 * 1.05 + s.Kept / 8.0 + StreamLayerOverhead;

    private static double SparseCost(Stored s) => s.Kept * (s.ValueBytes + 8) + 16;

    private string Dense(WeightSpec layer, Stored s)
    {
        string tensor = s.Levels is null ? layer.TensorName : name("q");
        graph.Initializer.Add(s.Levels is null
            ? OnnxProtos.Float(tensor, s.Floats, layer.Shape)
            : OnnxProtos.Int8(tensor, s.Levels, layer.Shape));
        return tensor;
    }

    private string Sparse(WeightSpec layer, Stored s)
    {
        int[] kept = s.KeptPositions().ToArray();
        var indices = kept.Select(i => (long)i).ToArray();
        // onnx.checker accepts only INT64 indices; linear indices (1-D) in ascending order are the spec's compact form.
        // The sparse tensor sits in a Constant node's sparse_value rather than in GraphProto.sparse_initializer: onnx's
        // strict type inference (check_model full_check) types a sparse initializer as sparse_tensor(float), which Conv and
        // Gemm reject, whereas a Constant's output is typed as a dense tensor of the sparse tensor's dims. ONNX Runtime
        // densifies it at load either way. The values keep no name: the node's output names the weight.
        var sparse = new SparseTensorProto
        {
            Values = s.Levels is null
                ? OnnxProtos.Float("", kept.Select(i => s.Floats![i]).ToArray(), kept.Length)
                : OnnxProtos.Int8("", kept.Select(i => s.Levels[i]).ToArray(), kept.Length),
            Indices = OnnxProtos.Int64("", indices, indices.Length),
        };
        sparse.Dims.Add(layer.Shape);
        string tensor = s.Levels is null ? layer.TensorName : name("q");
        graph.Node.Add(OnnxProtos.Node("Constant", null, [], tensor, OnnxProtos.Attr("sparse_value", sparse)));
        return tensor;
    }

    /// <summary>For an int8 weight already cast to float: <c>{layer}.weight = levels · scale[O, 1, …]</c>.</summary>
    private void Dequantize(WeightSpec layer, Stored s, string asFloat)
    {
        if (Dequantizes(layer))
        {
            // asFloat is the int8 tensor here: DequantizeLinear(q, scale[O], 0) along the output channels.
            graph.Node.Add(OnnxProtos.Node("DequantizeLinear", null, [asFloat, scaleTensors[layer.Layer]], layer.TensorName,
                OnnxProtos.Attr("axis", 0L)));
            return;
        }

        if (s.Kept == 0)
        {
            // Nothing kept: the zeros need no scale.
            graph.Node.Add(OnnxProtos.Node("Identity", null, [asFloat], layer.TensorName));
            return;
        }

        graph.Node.Add(OnnxProtos.Node("Mul", null, [asFloat, scaleTensors[layer.Layer]], layer.TensorName));
    }

    /// <summary>
    /// The per-channel scales of all int8 layers that keep weights. The 256-entry <paramref name="table"/> is rebuilt once as
    /// Reshape(octaves[16, 1] · fractions[1, 16], [256]); each weight rank has one uint8 tensor of table indices shaped
    /// [ΣO, 1, …], gathered into float scales of that shape, so that a Split along axis 0 hands each layer a [O, 1, …] factor
    /// that broadcasts over its weight (no per-layer initializer). Float32 throughout: ML.NET's ONNX transformer rejects a model
    /// with any float16 initializer.
    /// </summary>
    private void EmitScales(IReadOnlyList<WeightSpec> layers, IReadOnlyList<Stored> stored, Int8ScaleTable table)
    {
        // DequantizeLinear takes 1-D per-axis scales for every layer (an all-zero one included): one group, rank 1.
        // (Group key 1: no Cast · scale layer has rank 1.)
        var groups = layers.Select((l, i) => (Layer: l, Stored: stored[i]))
            .Where(x => Dequantizes(x.Layer) || x.Stored.Kept > 0)
            .GroupBy(x => Dequantizes(x.Layer) ? 1 : x.Layer.Shape.Length).ToList();
        if (groups.Count == 0)
            return;

        // "sc": the scale data (tables and codes), which size reports count as scales.
        string octaves = name("sc"), fractions = name("sc");
        graph.Initializer.Add(OnnxProtos.Float(octaves, table.Octaves, Int8ScaleTable.Steps, 1));
        graph.Initializer.Add(OnnxProtos.Float(fractions, table.Fractions, 1, Int8ScaleTable.Steps));
        string grid = name("s"), values = name("s");
        graph.Node.Add(OnnxProtos.Node("Mul", null, [octaves, fractions], grid));
        graph.Node.Add(OnnxProtos.Node("Reshape", null, [grid, Int64Constant([Int8ScaleTable.Steps * Int8ScaleTable.Steps])], values));

        foreach (var group in groups)
        {
            var members = group.ToList();
            byte[] codes = members.SelectMany(m => m.Stored.Scales!.Select(table.Code)).ToArray();
            long[] dims = [codes.Length, .. Enumerable.Repeat(1L, group.Key - 1)];
            string codeTensor = name("sc"), index = name("s"), all = name("s");
            graph.Initializer.Add(OnnxProtos.UInt8(codeTensor, codes, dims));
            graph.Node.Add(Cast(codeTensor, index, DataType.Int64));
            graph.Node.Add(OnnxProtos.Node("Gather", null, [values, index], all));

            if (members.Count == 1)
            {
                scaleTensors[members[0].Layer.Layer] = all;
                continue;
            }

            string[] pieces = members.Select(_ => name("s")).ToArray();
            var split = OnnxProtos.Node("Split", null, [all, Int64Constant(members.Select(m => m.Layer.Shape[0]).ToArray())], pieces[0]);
            split.Output.Add(pieces.Skip(1));
            graph.Node.Add(split);
            for (int i = 0; i < members.Count; i++)
                scaleTensors[members[i].Layer.Layer] = pieces[i];
        }
    }

    /// <summary>The shared Compact chain for all <paramref name="layers"/>: one value tensor, one gap stream, one decode.</summary>
    private void Stream(IReadOnlyList<(WeightSpec Layer, Stored Stored)> layers)
    {
        bool quantized = layers[0].Stored.Levels is not null;
        long total = layers.Sum(l => l.Stored.Count);
        var positions = new List<long>();
        var floats = new List<float>();
        var levels = new List<sbyte>();
        long offset = 0;
        foreach ((WeightSpec _, Stored s) in layers)
        {
            foreach (int i in s.KeptPositions())
            {
                positions.Add(offset + i);
                if (quantized)
                    levels.Add(s.Levels![i]);
                else
                    floats.Add(s.Floats![i]);
            }

            offset += s.Count;
        }

        if (positions.Count == 0)
        {
            // Nothing kept anywhere: every weight is a constant zero of its shape (ConstantOfShape defaults to float 0).
            foreach ((WeightSpec layer, Stored s) in layers)
            {
                if (!Dequantizes(layer))
                {
                    graph.Node.Add(OnnxProtos.Node("ConstantOfShape", null, [Int64Constant(layer.Shape)], layer.TensorName));
                    continue;
                }

                string zero = name("f");
                graph.Node.Add(OnnxProtos.Node("ConstantOfShape", null, [Int64Constant(layer.Shape)], zero, Int8Fill()));
                Dequantize(layer, s, zero);
            }

            return;
        }

        long n = positions.Count;
        long[] kept = positions.ToArray();
        int k = RiceGapCode.BestK(kept);
        byte[] code = RiceGapCode.Encode(kept, k);
        long bits = code.LongLength * 8;

        // Bits, most significant first: [B] → [B, 1] >> [7 … 0] → [B, 8] mod 2 → [8B].
        string stream = name("code");
        graph.Initializer.Add(OnnxProtos.UInt8(stream, code, code.Length));
        string column = Node("Unsqueeze", [stream, Int64Constant([1])], "c1");
        string shifted = Node("BitShift", [column, UInt8Constant([7, 6, 5, 4, 3, 2, 1, 0], [8])], "c2",
            new AttributeProto { Name = "direction", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("RIGHT") });
        string bit = Node("Mod", [shifted, UInt8Constant([2], [])], "c3");
        string flatBits = Node("Reshape", [bit, Int64Constant([-1])], "c4");

        // Remainder bits | separator + unary codes.
        string remainderBits = name("rb"), unaryBits = name("ub");
        var split = OnnxProtos.Node("Split", null, [flatBits, Int64Constant([n * k, bits - n * k])], remainderBits);
        split.Output.Add(unaryBits);
        graph.Node.Add(split);

        // t_i = index of the i-th one in the unary part. NonZero would say it directly, but ONNX Runtime does not fold NonZero
        // (its output shape depends on the data), so: slot = bit · (ones so far) is i + 1 at the i-th one and 0 at every zero;
        // scatter each index into its slot of an [n + 1] vector and drop slot 0, which the zeros all wrote to.
        long unaryLength = bits - n * k;
        string unary = Node("Cast", [unaryBits], "u1", OnnxProtos.Attr("to", (long)DataType.Int64));
        string ones = Node("CumSum", [unary, Int64Constant([0], scalar: true)], "u2");
        string slots = Node("Mul", [unary, ones], "u3");
        string indices = Node("Range", [Int64Constant([0], scalar: true), Int64Constant([unaryLength], scalar: true), Int64Constant([1], scalar: true)], "u4");
        string bySlot = Node("ScatterElements", [Node("ConstantOfShape", [Int64Constant([n + 1])], "u5", Int64Fill(0)), slots, indices], "u6");
        string t = Node("Slice", [bySlot, Int64Constant([1]), Int64Constant([n + 1])], "t");
        string rMatrix = Node("Reshape", [remainderBits, Int64Constant([n, k])], "r1");
        string rFloat = Node("Cast", [rMatrix], "r2", OnnxProtos.Attr("to", (long)DataType.Float));
        float[] powers = Enumerable.Range(0, k).Select(b => (float)(1L << (k - 1 - b))).ToArray();
        string radix = name("pow");
        graph.Initializer.Add(OnnxProtos.Float(radix, powers, k));
        string r = Node("MatMul", [rFloat, radix], "r3");
        string rShifted = Node("Sub", [r, FloatConstant(1L << k)], "r4");
        string steps = Node("Cast", [rShifted], "r5", OnnxProtos.Attr("to", (long)DataType.Int64));
        string sums = Node("CumSum", [steps, Int64Constant([0], scalar: true)], "r6");
        string scaled = Node("Mul", [t, Int64Constant([1L << k], scalar: true)], "t2");
        string scatterPositions = Node("Add", [scaled, sums], "pos");

        string values;
        if (quantized && fullInt8)
        {
            values = name("q");
            graph.Initializer.Add(OnnxProtos.Int8(values, levels.ToArray(), n));
        }
        else if (quantized)
        {
            string q = name("q");
            graph.Initializer.Add(OnnxProtos.Int8(q, levels.ToArray(), n));
            values = Node("Cast", [q], "qf", OnnxProtos.Attr("to", (long)DataType.Float));
        }
        else
        {
            values = name("v");
            graph.Initializer.Add(OnnxProtos.Float(values, floats.ToArray(), n));
        }

        // Full int8: the levels are scattered as int8 (the convolutions' DequantizeLinear reads them; a Gemm casts its share).
        string zeros = quantized && fullInt8
            ? Node("ConstantOfShape", [Int64Constant([total])], "z", Int8Fill())
            : Node("ConstantOfShape", [Int64Constant([total])], "z");
        string flat = Node("ScatterElements", [zeros, scatterPositions, values], "flat");

        string[] pieces = layers.Count == 1 ? [flat] : layers.Select(l => name("f")).ToArray();
        if (layers.Count > 1)
        {
            var splitLayers = OnnxProtos.Node("Split", null, [flat, Int64Constant(layers.Select(l => l.Stored.Count).ToArray())], pieces[0]);
            splitLayers.Output.Add(pieces.Skip(1));
            graph.Node.Add(splitLayers);
        }

        for (int i = 0; i < layers.Count; i++)
        {
            (WeightSpec layer, Stored s) = layers[i];
            if (quantized && fullInt8)
            {
                string levelsOf = name("f");
                graph.Node.Add(OnnxProtos.Node("Reshape", null, [pieces[i], Int64Constant(layer.Shape)], levelsOf));
                if (!Dequantizes(layer))
                {
                    string asFloat = name("f");
                    graph.Node.Add(Cast(levelsOf, asFloat, DataType.Float));
                    levelsOf = asFloat;
                }

                Dequantize(layer, s, levelsOf);
                continue;
            }

            string target = quantized && s.Kept > 0 ? name("f") : layer.TensorName;
            graph.Node.Add(OnnxProtos.Node("Reshape", null, [pieces[i], Int64Constant(layer.Shape)], target));
            if (quantized && s.Kept > 0)
                Dequantize(layer, s, target);
        }
    }

    private string Node(string opType, string[] inputs, string hint, params AttributeProto[] attributes)
    {
        string output = name(hint);
        graph.Node.Add(OnnxProtos.Node(opType, null, inputs, output, attributes));
        return output;
    }

    /// <summary>ConstantOfShape's <c>value</c> attribute for an int8 zero fill.</summary>
    private static AttributeProto Int8Fill() => new()
    {
        Name = "value",
        Type = AttributeProto.Types.AttributeType.Tensor,
        T = OnnxProtos.Int8("", [0], 1),
    };

    /// <summary>ConstantOfShape's <c>value</c> attribute for an int64 fill.</summary>
    private static AttributeProto Int64Fill(long value) => new()
    {
        Name = "value",
        Type = AttributeProto.Types.AttributeType.Tensor,
        T = OnnxProtos.Int64("", [value], 1),
    };

    private static NodeProto Cast(string input, string output, DataType to) =>
        OnnxProtos.Node("Cast", null, [input], output, OnnxProtos.Attr("to", (long)to));

    /// <summary>An int64 constant, shared by every use of the same values.</summary>
    private string Int64Constant(long[] values, bool scalar = false) =>
        Shared($"i64:{scalar}:{string.Join(',', values)}", "s", n => OnnxProtos.Int64(n, values, scalar ? [] : [values.Length]));

    private string UInt8Constant(byte[] values, long[] dims) =>
        Shared($"u8:{string.Join(',', dims)}:{string.Join(',', values)}", "s", n => OnnxProtos.UInt8(n, values, dims));

    private string FloatConstant(float value) =>
        Shared($"f32:{value:R}", "s", n => OnnxProtos.Float(n, [value]));

    private string Shared(string key, string hint, Func<string, TensorProto> make)
    {
        if (constants.TryGetValue(key, out string? existing))
            return existing;
        string tensor = name(hint);
        graph.Initializer.Add(make(tensor));
        constants[key] = tensor;
        return tensor;
    }
}
