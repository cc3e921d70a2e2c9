using Microsoft.ML.HyperSparse.Network;
namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>What the dead-channel shrink did to one convolution or linear layer.</summary>
/// <param name="Name">Layer (node) name.</param>
/// <param name="OriginalShape">Weight shape before the shrink ([O, I, kH, kW] or [O, I]).</param>
/// <param name="OriginalKept">Non-zero weights before the shrink (after batch-norm folding: the trained mask's count).</param>
/// <param name="Shape">Weight shape after the shrink.</param>
/// <param name="Kept">Non-zero weights after the shrink.</param>
/// <param name="KeptRows">Original index of each output channel (row) kept, in order.</param>
/// <param name="KeptInputs">Original index of each input slice kept (input channel of a Conv, input feature of a Gemm), in order.</param>
internal sealed record ShrunkLayer(string Name, long[] OriginalShape, long OriginalKept, long[] Shape, long Kept, int[] KeptRows, int[] KeptInputs)
{
    /// <summary>Output channels (rows) removed.</summary>
    public long OutputChannelsRemoved => OriginalShape[0] - Shape[0];

    /// <summary>Input slices removed: input channels of a convolution, input features of a linear layer.</summary>
    public long InputsRemoved => OriginalShape[1] - Shape[1];

    /// <summary>Non-zero weights no longer stored: folded into biases, merged into another column, or read by nothing.</summary>
    public long KeptRemoved => OriginalKept - Kept;

    /// <summary>Whether the layer differs from the original at all.</summary>
    public bool Changed => OutputChannelsRemoved != 0 || InputsRemoved != 0 || KeptRemoved != 0;
}

/// <summary>The lowered node list after the shrink and what happened to every layer, in node order.</summary>
internal sealed record DeadChannelShrinkResult(IReadOnlyList<NetworkNode> Nodes, IReadOnlyList<ShrunkLayer> Layers)
{
    /// <summary>Whether any layer changed.</summary>
    public bool Changed => Layers.Any(l => l.Changed);
}

/// <summary>
/// Removes the channels of a lowered network (see <see cref="NetworkLowering"/>) that do not depend on the image or that
/// nothing reads, folding their contribution exactly into what reads them, so ONNX Runtime computes less and the file
/// stores less while the output stays the same up to float rounding.
/// </summary>
/// <remarks>
/// <para><b>Constants.</b> Every channel of every tensor is either variable or spatially constant: one value for every sample
/// and position. A convolution output channel whose weights from all variable input channels are zero is constant (its bias
/// plus what constant inputs add, provided that is uniform: no padding, or a zero constant); ReLU, pooling (ONNX MaxPool
/// pads with −∞, so constants survive it), flatten and an unfolded batch norm map constants through; an Add is constant
/// where both addends are. At high sparsity whole filters are pruned away and leave ReLU(folded bias) behind.</para>
/// <para><b>Removal.</b> A channel goes when every layer reading it can do without it: it is constant, or every output the
/// layer keeps has zero weights on it. Channels tied by an element-wise op (ReLU, pooling, batch norm, flatten, Add) go
/// together, so a residual-stream channel goes only when it can go from every tensor added into it, through the identity
/// shortcuts too. The network input and the logits keep every channel, and no tensor is left without a channel: a layer
/// that collapses entirely keeps one (constant) channel.</para>
/// <para><b>Folding.</b> A constant c read by a linear layer or an unpadded convolution adds c·ΣW to each output's bias (a
/// bias is created when needed). Through a zero-padded convolution a non-zero constant is not uniform at the borders, so it
/// cannot become a bias. There one constant channel is kept as a representative and the others are merged into its weights
/// (W[o, rep] = Σ c_i·W[o, i] / c_rep, exact because the padded inputs are proportional): this costs one channel per tensor
/// at run time and stores at most the merged weights' non-zeros inside the layer's own (sparse, int8-able) weight, where a
/// per-position constant map would cost a dense [O, kH, kW] kernel per layer and an extra Add at run time. A constant that is
/// zero contributes nothing anywhere. Sums are taken in double.</para>
/// </remarks>
internal static class DeadChannelShrink
{
    /// <summary>Feature maps with a multiple of this many channels keep a multiple of it (ONNX Runtime's NCHWc blocking).</summary>
    public const int ChannelBlock = 16;

    /// <summary>Shrinks <paramref name="nodes"/>, the lowered (validated, batch-norm-folded) nodes of <paramref name="net"/>.</summary>
    /// <param name="nodes">The lowered nodes.</param>
    /// <param name="net">The network they come from.</param>
    /// <param name="channelBlock">A feature map whose channel count is a multiple of this keeps a multiple of it (1: no rule).</param>
    public static DeadChannelShrinkResult Apply(IReadOnlyList<NetworkNode> nodes, NetworkDescription net, int channelBlock = ChannelBlock)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentNullException.ThrowIfNull(net);
        ArgumentOutOfRangeException.ThrowIfLessThan(channelBlock, 1);
        var pass = new Pass(nodes, net, channelBlock);
        pass.Decide();
        return pass.Rewrite();
    }

    /// <summary>A tensor as the pass sees it: channels ("units"), each holding <see cref="UnitSize"/> values per sample.</summary>
    /// <param name="Units">Channels of an image tensor, features of a linear output, the flattened channels of a flatten.</param>
    /// <param name="UnitSize">Values per unit: H·W (an image, or its flattening), 1 for a linear layer's features.</param>
    /// <param name="Height">Image height (0 for a flat tensor).</param>
    /// <param name="Width">Image width (0 for a flat tensor).</param>
    private sealed record TensorShape(int Units, int UnitSize, int Height, int Width);

    private sealed class Pass
    {
        private readonly IReadOnlyList<NetworkNode> nodes;
        private readonly Dictionary<string, int> tensorIndex = new(StringComparer.Ordinal);
        private readonly List<TensorShape> shapes = [];
        private readonly List<double?[]> constants = [];
        private readonly List<int> offsets = [];
        private readonly List<List<NetworkNode>> layerReaders = [];

        // Per layer node: for each input unit, the output rows with a non-zero weight on it.
        private readonly Dictionary<NetworkNode, int[][]> rowsReading = new(ReferenceEqualityComparer.Instance);

        private int[] parent = [];
        private bool[] removable = [];
        private bool[] pinned = [];
        private List<(int Tensor, int Unit)>[] members = [];

        private readonly int channelBlock;

        public Pass(IReadOnlyList<NetworkNode> nodes, NetworkDescription net, int channelBlock)
        {
            this.nodes = nodes;
            this.channelBlock = channelBlock;
            Add(NetworkDescription.NormalizedTensor, new TensorShape(net.Channels, net.Height * net.Width, net.Height, net.Width));
            constants[0] = new double?[net.Channels];
            foreach (NetworkNode node in nodes)
            {
                TensorShape input = Shape(node.Input);
                Add(node.Output, OutputShape(node, input));
                constants[^1] = Constants(node, input);
                if (node is Conv2dNode or LinearNode)
                {
                    layerReaders[tensorIndex[node.Input]].Add(node);
                    rowsReading[node] = RowsReading(node, input);
                }
            }

            BuildGroups();
        }

        private TensorShape Shape(string tensor) => shapes[tensorIndex[tensor]];

        private double?[] Constant(string tensor) => constants[tensorIndex[tensor]];

        private void Add(string name, TensorShape shape)
        {
            tensorIndex[name] = shapes.Count;
            offsets.Add(shapes.Count == 0 ? 0 : offsets[^1] + shapes[^1].Units);
            shapes.Add(shape);
            constants.Add([]);
            layerReaders.Add([]);
        }

        private static TensorShape OutputShape(NetworkNode node, TensorShape x)
        {
            // padding: both sides together.
            static int Window(int size, int kernel, int stride, int padding) => (size + padding - kernel) / stride + 1;
            TensorShape Image(int units, int h, int w) => new(units, h * w, h, w);
            return node switch
            {
                Conv2dNode c => Image(c.OutChannels, Window(x.Height, c.KernelH, c.StrideH, c.Pads.Top + c.Pads.Bottom), Window(x.Width, c.KernelW, c.StrideW, c.Pads.Left + c.Pads.Right)),
                MaxPoolNode p => Image(x.Units, Window(x.Height, p.Kernel, p.Stride, p.Pads.Top + p.Pads.Bottom), Window(x.Width, p.Kernel, p.Stride, p.Pads.Left + p.Pads.Right)),
                AvgPoolNode p => Image(x.Units, Window(x.Height, p.Kernel, p.Stride, 0), Window(x.Width, p.Kernel, p.Stride, 0)),
                GlobalAvgPoolNode => Image(x.Units, 1, 1),
                FlattenNode => x with { Height = 0, Width = 0 },
                LinearNode l => new TensorShape(l.OutFeatures, 1, 0, 0),
                BatchNormNode or ReluNode or AddNode => x,
                _ => throw OnnxExportErrors.Network($"node '{node.Name}'", "a supported node type", node.GetType().Name),
            };
        }

        /// <summary>The constant value of each output unit (null: varies with the image), from the inputs' constants.</summary>
        private double?[] Constants(NetworkNode node, TensorShape x)
        {
            double?[] input = Constant(node.Input);
            switch (node)
            {
                case Conv2dNode conv:
                    return LayerConstants(conv.Weight, conv.Bias, conv.OutChannels, x.Units, conv.KernelH * conv.KernelW, input,
                        padded: !conv.Pads.IsZero);
                case LinearNode linear:
                    return LayerConstants(linear.Weight, linear.Bias, linear.OutFeatures, x.Units, x.UnitSize, input, padded: false);
                case ReluNode:
                    return input.Select(v => v is { } c ? Math.Max(c, 0.0) : (double?)null).ToArray();
                case BatchNormNode bn:
                {
                    // Per channel on an image, per feature on a flat tensor: a unit is constant when all its values are equal.
                    int perUnit = bn.Scale.Length / x.Units;
                    var result = new double?[x.Units];
                    for (int u = 0; u < x.Units; u++)
                    {
                        if (input[u] is not { } c)
                            continue;
                        double first = Affine(bn, u * perUnit, c);
                        bool uniform = true;
                        for (int j = 1; j < perUnit && uniform; j++)
                            uniform = Affine(bn, u * perUnit + j, c) == first;
                        result[u] = uniform ? first : null;
                    }

                    return result;
                }

                case AddNode add:
                    double?[] other = Constant(add.Other);
                    return input.Zip(other, (a, b) => a is { } p && b is { } q ? p + q : (double?)null).ToArray();
                default:
                    return input.ToArray(); // pooling and flatten keep a constant constant
            }
        }

        private static double Affine(BatchNormNode bn, int i, double x) =>
            (x - bn.Mean[i]) / Math.Sqrt((double)bn.Var[i] + bn.Epsilon) * bn.Scale[i] + bn.Bias[i];

        /// <summary>
        /// Output o is constant when every input unit it has a non-zero weight on is constant and its contribution is uniform:
        /// always without padding, only for a zero constant with zero padding (the border sees fewer inputs).
        /// </summary>
        private static double?[] LayerConstants(float[] weight, float[]? bias, int outputs, int units, int unitSize, double?[] input, bool padded)
        {
            var result = new double?[outputs];
            int row = units * unitSize;
            for (int o = 0; o < outputs; o++)
            {
                double value = bias?[o] ?? 0.0;
                bool constant = true;
                for (int u = 0; u < units && constant; u++)
                {
                    double sum = 0;
                    bool any = false;
                    for (int k = o * row + u * unitSize, end = k + unitSize; k < end; k++)
                    {
                        any |= weight[k] != 0f;
                        sum += weight[k];
                    }

                    if (!any)
                        continue;
                    if (input[u] is not { } c || (padded && c != 0))
                        constant = false;
                    else
                        value += c * sum;
                }

                result[o] = constant ? value : null;
            }

            return result;
        }

        private int[][] RowsReading(NetworkNode layer, TensorShape x)
        {
            (float[] weight, int outputs) = layer is Conv2dNode c ? (c.Weight, c.OutChannels) : (((LinearNode)layer).Weight, ((LinearNode)layer).OutFeatures);
            int unitSize = weight.Length / outputs / x.Units;
            var lists = Enumerable.Range(0, x.Units).Select(_ => new List<int>()).ToArray();
            for (int o = 0; o < outputs; o++)
            for (int u = 0; u < x.Units; u++)
            {
                int start = (o * x.Units + u) * unitSize;
                if (weight.AsSpan(start, unitSize).ContainsAnyExcept(0f))
                    lists[u].Add(o);
            }

            return lists.Select(l => l.ToArray()).ToArray();
        }

        private int Id(int tensor, int unit) => offsets[tensor] + unit;

        private int Group(int tensor, int unit) => Find(Id(tensor, unit));

        private int Find(int id)
        {
            while (parent[id] != id)
                id = parent[id] = parent[parent[id]];
            return id;
        }

        /// <summary>Ties each unit to the units an element-wise node maps it to; such units are kept or removed together.</summary>
        private void BuildGroups()
        {
            int count = offsets[^1] + shapes[^1].Units;
            parent = Enumerable.Range(0, count).ToArray();
            void Union(int a, int b) => parent[Find(a)] = Find(b);
            foreach (NetworkNode node in nodes)
            {
                if (node is Conv2dNode or LinearNode)
                    continue;
                int input = tensorIndex[node.Input], output = tensorIndex[node.Output];
                for (int u = 0; u < shapes[output].Units; u++)
                {
                    Union(Id(input, u), Id(output, u));
                    if (node is AddNode add)
                        Union(Id(tensorIndex[add.Other], u), Id(output, u));
                }
            }

            members = new List<(int, int)>[count];
            pinned = new bool[count];
            for (int t = 0; t < shapes.Count; t++)
            for (int u = 0; u < shapes[t].Units; u++)
                (members[Group(t, u)] ??= []).Add((t, u));

            // The image input and the logits keep every channel, and with them every unit tied to them.
            foreach (string fixedTensor in new[] { NetworkDescription.NormalizedTensor, NetworkDescription.LogitsTensor })
            {
                int t = tensorIndex[fixedTensor];
                for (int u = 0; u < shapes[t].Units; u++)
                    pinned[Group(t, u)] = true;
            }

            removable = new bool[count];
            for (int g = 0; g < count; g++)
                removable[g] = members[g] is not null && !pinned[g];
        }

        private bool Kept(int tensor, int unit) => !removable[Group(tensor, unit)];

        /// <summary>
        /// Finds the largest set of removable units: drops every unit some reader still needs until nothing changes, then
        /// keeps one unit in any tensor about to lose all of them and a representative constant where a padded convolution
        /// needs one, and repeats (keeping a unit only ever makes more units needed, so this ends).
        /// </summary>
        public void Decide()
        {
            while (true)
            {
                bool changed = true;
                while (changed)
                {
                    changed = false;
                    // Readers come after producers: visiting groups from the end lets a kept output reach its inputs in one pass.
                    for (int g = removable.Length - 1; g >= 0; g--)
                    {
                        if (removable[g] && !CanGo(g))
                        {
                            removable[g] = false;
                            changed = true;
                        }
                    }
                }

                bool picked = false;
                for (int t = 0; t < shapes.Count; t++)
                {
                    if (Enumerable.Range(0, shapes[t].Units).All(u => !Kept(t, u)))
                    {
                        // A constant channel costs its producer nothing once folded; a non-zero one can serve a padded reader.
                        int unit = Largest(t, Enumerable.Range(0, shapes[t].Units));
                        if (unit < 0)
                            unit = Math.Max(0, Array.FindIndex(constants[t], c => c is not null));
                        removable[Group(t, unit)] = false;
                        picked = true;
                    }

                    foreach (NetworkNode reader in layerReaders[t])
                    {
                        if (reader is Conv2dNode { Pads.IsZero: true } or LinearNode || Representative(t) >= 0)
                            continue;
                        int needed = Largest(t, NonZeroConstantsRead(reader, t));
                        if (needed >= 0)
                        {
                            removable[Group(t, needed)] = false;
                            picked = true;
                        }
                    }
                }

                // ONNX Runtime's CPU layout optimisation (NCHWc) runs a convolution in its fast blocked form only when the
                // channel counts are multiples of the vector block (8 with AVX2, 16 with AVX-512); an odd count falls back to
                // plain NCHW with reorders around it, which costs more than the removed channels save (measured: ResNet-20 at
                // κ = 0.98 losing 12 of 794 channels scored 1.42× slower at batch 64). So a feature map whose trained channel
                // count is a multiple of 16 keeps a multiple of 16: the first removable channels stay until it does.
                for (int t = 0; t < shapes.Count; t++)
                {
                    if (channelBlock == 1 || shapes[t].Height == 0 || shapes[t].Units % channelBlock != 0)
                        continue;
                    int kept = Enumerable.Range(0, shapes[t].Units).Count(u => Kept(t, u));
                    for (int u = 0; u < shapes[t].Units && kept % channelBlock != 0; u++)
                    {
                        if (Kept(t, u))
                            continue;
                        removable[Group(t, u)] = false;
                        kept = Enumerable.Range(0, shapes[t].Units).Count(v => Kept(t, v));
                        picked = true;
                    }
                }

                if (!picked)
                    return;
            }
        }

        /// <summary>Whether every layer reading a unit of group <paramref name="g"/> can do without it.</summary>
        private bool CanGo(int g)
        {
            foreach ((int t, int u) in members[g])
            {
                if (constants[t][u] is not null)
                    continue; // folded into the reader (see Rewrite)
                foreach (NetworkNode reader in layerReaders[t])
                {
                    int output = tensorIndex[reader.Output];
                    foreach (int row in rowsReading[reader][u])
                        if (Kept(output, row))
                            return false;
                }
            }

            return true;
        }

        /// <summary>
        /// The kept unit of tensor <paramref name="t"/> holding the largest non-zero constant (the lowest such on a tie), or −1.
        /// The largest keeps the merge factors c / c_rep at most 1 in size.
        /// </summary>
        private int Representative(int t) => Largest(t, Enumerable.Range(0, shapes[t].Units).Where(u => Kept(t, u)));

        /// <summary>Among <paramref name="units"/> of tensor <paramref name="t"/>, the one holding the largest non-zero |constant|, or −1.</summary>
        private int Largest(int t, IEnumerable<int> units)
        {
            int best = -1;
            foreach (int u in units)
                if (constants[t][u] is { } c && c != 0 && (best < 0 || Math.Abs(c) > Math.Abs(constants[t][best]!.Value)))
                    best = u;
            return best;
        }

        /// <summary>Units of <paramref name="t"/> holding a non-zero constant that a kept output of <paramref name="reader"/> has weights on.</summary>
        private IEnumerable<int> NonZeroConstantsRead(NetworkNode reader, int t)
        {
            int output = tensorIndex[reader.Output];
            for (int u = 0; u < shapes[t].Units; u++)
                if (constants[t][u] is { } c && c != 0 && rowsReading[reader][u].Any(row => Kept(output, row)))
                    yield return u;
        }

        public DeadChannelShrinkResult Rewrite()
        {
            var result = new List<NetworkNode>(nodes.Count);
            var layers = new List<ShrunkLayer>();
            foreach (NetworkNode node in nodes)
            {
                int input = tensorIndex[node.Input], output = tensorIndex[node.Output];
                int[] inputs = KeptUnits(input), outputs = KeptUnits(output);
                switch (node)
                {
                    case Conv2dNode conv:
                    {
                        bool padded = !conv.Pads.IsZero;
                        (float[] weight, float[]? bias) = Fold(conv.Weight, conv.Bias, conv.OutChannels, input, conv.KernelH * conv.KernelW,
                            outputs, inputs, padded ? Representative(input) : -1, padded);
                        var shrunk = conv with { OutChannels = outputs.Length, InChannels = inputs.Length, Weight = weight, Bias = bias };
                        result.Add(Same(conv.Weight, conv.Bias, shrunk.Weight, shrunk.Bias) ? conv : shrunk);
                        layers.Add(new ShrunkLayer(conv.Name, [conv.OutChannels, conv.InChannels, conv.KernelH, conv.KernelW], Kept(conv.Weight),
                            [shrunk.OutChannels, shrunk.InChannels, conv.KernelH, conv.KernelW], Kept(weight), outputs, inputs));
                        break;
                    }

                    case LinearNode linear:
                    {
                        int unitSize = shapes[input].UnitSize;
                        (float[] weight, float[]? bias) = Fold(linear.Weight, linear.Bias, linear.OutFeatures, input, unitSize,
                            outputs, inputs, representative: -1, padded: false);
                        var shrunk = linear with { OutFeatures = outputs.Length, InFeatures = inputs.Length * unitSize, Weight = weight, Bias = bias };
                        result.Add(Same(linear.Weight, linear.Bias, shrunk.Weight, shrunk.Bias) ? linear : shrunk);
                        layers.Add(new ShrunkLayer(linear.Name, [linear.OutFeatures, linear.InFeatures], Kept(linear.Weight),
                            [shrunk.OutFeatures, shrunk.InFeatures], Kept(weight), outputs,
                            inputs.SelectMany(u => Enumerable.Range(u * unitSize, unitSize)).ToArray()));
                        break;
                    }

                    case BatchNormNode bn when inputs.Length < shapes[input].Units:
                    {
                        int perUnit = bn.Scale.Length / shapes[input].Units;
                        float[] Slice(float[] values) => inputs.SelectMany(u => values.Skip(u * perUnit).Take(perUnit)).ToArray();
                        result.Add(bn with { Scale = Slice(bn.Scale), Bias = Slice(bn.Bias), Mean = Slice(bn.Mean), Var = Slice(bn.Var) });
                        break;
                    }

                    default:
                        result.Add(node);
                        break;
                }
            }

            return new DeadChannelShrinkResult(result, layers);
        }

        private int[] KeptUnits(int tensor) => Enumerable.Range(0, shapes[tensor].Units).Where(u => Kept(tensor, u)).ToArray();

        /// <summary>
        /// The kept rows and columns of a layer's weight, with every constant input folded out of it: into the bias (no
        /// padding), or, through zero padding, merged into the representative's column scaled by c / c_rep. A removed
        /// variable input has only zero weights in the kept rows (that is why it could go).
        /// </summary>
        private (float[] Weight, float[]? Bias) Fold(float[] weight, float[]? bias, int outputs, int input, int unitSize,
            int[] rows, int[] columns, int representative, bool padded)
        {
            int units = shapes[input].Units;
            double?[] constant = constants[input];
            var column = new int[units];
            Array.Fill(column, -1);
            for (int j = 0; j < columns.Length; j++)
                column[columns[j]] = j;

            int newRow = columns.Length * unitSize, oldRow = units * unitSize;
            var result = new float[rows.Length * newRow];
            var newBias = new float[rows.Length];
            bool biasNeeded = bias is not null;
            var merged = new double[unitSize];
            for (int r = 0; r < rows.Length; r++)
            {
                int o = rows[r];
                double b = bias?[o] ?? 0.0;
                Array.Clear(merged);
                for (int u = 0; u < units; u++)
                {
                    ReadOnlySpan<float> w = weight.AsSpan(o * oldRow + u * unitSize, unitSize);
                    if (constant[u] is not { } c)
                    {
                        if (column[u] >= 0)
                            w.CopyTo(result.AsSpan(r * newRow + column[u] * unitSize, unitSize));
                        else if (w.ContainsAnyExcept(0f))
                            throw new InvalidOperationException($"Dead-channel shrink: unit {u} was removed but output {o} reads it.");
                        continue;
                    }

                    if (c == 0 || !w.ContainsAnyExcept(0f))
                        continue;
                    if (!padded)
                    {
                        double sum = 0;
                        foreach (float v in w)
                            sum += v;
                        b += c * sum;
                        biasNeeded = true;
                        continue;
                    }

                    if (representative < 0)
                        throw new InvalidOperationException($"Dead-channel shrink: no representative channel for constant unit {u}.");
                    double scale = c / constants[input][representative]!.Value;
                    for (int k = 0; k < unitSize; k++)
                        merged[k] += scale * w[k];
                }

                if (representative >= 0)
                    for (int k = 0; k < unitSize; k++)
                        result[r * newRow + column[representative] * unitSize + k] = PositiveZero((float)merged[k]);
                newBias[r] = (float)b;
            }

            return (result, biasNeeded ? newBias : null);
        }

        private static float PositiveZero(float value) => value == 0f ? 0f : value;

        private static long Kept(float[] weight) => weight.LongCount(w => w != 0f);

        private static bool Same(float[] weight, float[]? bias, float[] newWeight, float[]? newBias) =>
            weight.AsSpan().SequenceEqual(newWeight) && (bias is null ? newBias is null : newBias is not null && bias.AsSpan().SequenceEqual(newBias));
    }
}
