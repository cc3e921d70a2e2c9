using System.Text;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// CPU reference implementations of the standard operators that rebuild a stored weight from constants (the ones the
/// HyperSparse encodings use, plus the usual shape, slicing and dequantisation operators), with the element types and
/// rounding of ONNX Runtime: float32 arithmetic in float32, integer casts that truncate and wrap.
/// </summary>
internal static class ConstantOps
{
    /// <summary>Operators <see cref="Evaluate"/> knows.</summary>
    public static readonly IReadOnlySet<string> Supported = new HashSet<string>(StringComparer.Ordinal)
    {
        "Constant", "ConstantOfShape", "Identity", "Cast", "CumSum", "Add", "Sub", "Mul", "Div", "ScatterElements",
        "Reshape", "Split", "Slice", "Concat", "Squeeze", "Unsqueeze", "Gather", "Transpose", "Expand", "DequantizeLinear",
        "BitShift", "Mod", "NonZero", "MatMul", "Range",
    };

    /// <summary>Computes every output of <paramref name="node"/> from its (constant) inputs; a missing optional input is null.</summary>
    /// <exception cref="OnnxEvaluationException">Unsupported operator or type, or inputs the operator rejects.</exception>
    public static ConstantTensor[] Evaluate(NodeProto node, IReadOnlyList<ConstantTensor?> inputs, long opset)
    {
        if (node.Domain is not ("" or "ai.onnx"))
            throw new OnnxEvaluationException($"operator {node.Domain}.{node.OpType} (not in the default domain)");
        ConstantTensor Input(int index) => index < inputs.Count && inputs[index] is { } value
            ? value
            : throw new OnnxEvaluationException($"{node.OpType} without its input {index}");
        ConstantTensor? Optional(int index) => index < inputs.Count ? inputs[index] : null;

        return node.OpType switch
        {
            "Constant" => [Constant(node)],
            "ConstantOfShape" => [ConstantOfShape(node, Input(0))],
            "Identity" => [Input(0)],
            "Cast" => [Cast(Input(0), (DataType)Int(node, "to", (long)DataType.Float))],
            "CumSum" => [CumSum(Input(0), Input(1), Int(node, "exclusive", 0) != 0, Int(node, "reverse", 0) != 0)],
            "Add" or "Sub" or "Mul" or "Div" => [Binary(node.OpType, Input(0), Input(1))],
            "ScatterElements" => [ScatterElements(Input(0), Input(1), Input(2), Int(node, "axis", 0), Str(node, "reduction", "none"))],
            "Reshape" => [Reshape(Input(0), Input(1), Int(node, "allowzero", 0) != 0)],
            "Split" => Split(node, Input(0), Optional(1), opset),
            "Slice" => [opset < 10 ? Slice(Input(0), RequiredInts(node, "starts"), RequiredInts(node, "ends"), Ints(node, "axes"), null)
                : Slice(Input(0), Values(Input(1)), Values(Input(2)), Optional(3) is { } a ? Values(a) : null, Optional(4) is { } s ? Values(s) : null)],
            "Concat" => [Concat(inputs.Select((t, i) => t ?? Input(i)).ToList(), Int(node, "axis", 0))],
            "Squeeze" => [Squeeze(Input(0), opset < 13 ? Ints(node, "axes") : Optional(1) is { } q ? Values(q) : null)],
            "Unsqueeze" => [Unsqueeze(Input(0), opset < 13 ? RequiredInts(node, "axes") : Values(Input(1)))],
            "Gather" => [Gather(Input(0), Input(1), Int(node, "axis", 0))],
            "Transpose" => [Transpose(Input(0), Ints(node, "perm"))],
            "Expand" => [Expand(Input(0), Values(Input(1)))],
            "DequantizeLinear" => [Dequantize(Input(0), Input(1), Optional(2), Int(node, "axis", 1))],
            "BitShift" => [BitShift(Input(0), Input(1), Str(node, "direction", ""))],
            "Mod" => [Mod(Input(0), Input(1), Int(node, "fmod", 0) != 0)],
            "NonZero" => [NonZero(Input(0))],
            "MatMul" => [MatMul(Input(0), Input(1))],
            "Range" => [Range(Input(0), Input(1), Input(2))],
            _ => throw new OnnxEvaluationException($"operator {node.OpType}, which the inspector does not evaluate"),
        };
    }

    private static long Int(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } attribute ? attribute.I : fallback;

    private static long[]? Ints(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } attribute ? attribute.Ints.ToArray() : null;

    private static long[] RequiredInts(NodeProto node, string name) => Ints(node, name)
        ?? throw new OnnxEvaluationException($"{node.OpType} without its attribute '{name}'");

    private static string Str(NodeProto node, string name, string fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } attribute ? Encoding.UTF8.GetString(attribute.S.Span) : fallback;

    private static long[] Values(ConstantTensor tensor) => tensor.Integers
        ?? throw new OnnxEvaluationException($"an integer shape or index tensor, found {tensor.Type}");

    private static ConstantTensor Constant(NodeProto node)
    {
        AttributeProto attribute = node.Attribute.FirstOrDefault()
            ?? throw new OnnxEvaluationException("a Constant node without a value attribute");
        return attribute.Name switch
        {
            "value" => ConstantTensor.Read(attribute.T),
            "sparse_value" => ConstantTensor.Read(attribute.SparseTensor),
            "value_float" => ConstantTensor.Float([], [attribute.F]),
            "value_floats" => ConstantTensor.Float([attribute.Floats.Count], attribute.Floats.ToArray()),
            "value_int" => ConstantTensor.Integer(DataType.Int64, [], [attribute.I]),
            "value_ints" => ConstantTensor.Integer(DataType.Int64, [attribute.Ints.Count], attribute.Ints.ToArray()),
            _ => throw new OnnxEvaluationException($"a Constant node with attribute '{attribute.Name}', which the inspector does not evaluate"),
        };
    }

    private static ConstantTensor ConstantOfShape(NodeProto node, ConstantTensor shape)
    {
        long[] dims = Values(shape);
        AttributeProto? attribute = node.Attribute.FirstOrDefault(a => a.Name == "value");
        // The default fill is a float32 zero.
        ConstantTensor fill = attribute is null ? ConstantTensor.Float([1], [0f]) : ConstantTensor.Read(attribute.T);
        if (fill.Count != 1)
            throw new OnnxEvaluationException($"ConstantOfShape with a {fill.Count}-element value");
        int count = ConstantTensor.ElementCount(dims);
        return fill.Floats is { } f
            ? ConstantTensor.Float(dims, Enumerable.Repeat(f[0], count).ToArray())
            : ConstantTensor.Integer(fill.Type, dims, Enumerable.Repeat(fill.Integers![0], count).ToArray());
    }

    public static ConstantTensor Cast(ConstantTensor input, DataType to)
    {
        if (to == DataType.Float)
            return input.Floats is not null
                ? input.Type == DataType.Float ? input : ConstantTensor.Float(input.Dims, input.Floats)
                : ConstantTensor.Float(input.Dims, input.Integers!.Select(v => (float)v).ToArray());
        ConstantTensor.RequireInteger(to);
        // ONNX Runtime casts float to integer with a C++ static_cast: truncation toward zero, then the integer type's width.
        long[] values = input.Floats is { } floats
            ? floats.Select(f => to == DataType.Bool ? (f != 0f ? 1L : 0L) : ConstantTensor.Wrap(to, (long)Math.Truncate(f))).ToArray()
            : input.Integers!.Select(v => ConstantTensor.Wrap(to, v)).ToArray();
        return ConstantTensor.Integer(to, input.Dims, values);
    }

    private static int Axis(long axis, int rank, string op)
    {
        long normalized = axis < 0 ? axis + rank : axis;
        return normalized >= 0 && normalized < Math.Max(rank, 1)
            ? (int)normalized
            : throw new OnnxEvaluationException($"{op} axis {axis} for a tensor of rank {rank}");
    }

    private static (int Outer, int Length, int Inner) Around(long[] dims, int axis) => (
        ConstantTensor.ElementCount(dims[..axis]), dims.Length == 0 ? 1 : (int)dims[axis], ConstantTensor.ElementCount(dims[(axis + 1)..]));

    private static ConstantTensor CumSum(ConstantTensor x, ConstantTensor axisTensor, bool exclusive, bool reverse)
    {
        int axis = Axis((long)axisTensor[0], x.Dims.Length, "CumSum");
        (int outer, int length, int inner) = Around(x.Dims, axis);
        var floats = x.Floats is null ? null : new float[x.Count];
        var integers = x.Integers is null ? null : new long[x.Count];
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            float floatSum = 0f;
            long integerSum = 0;
            for (int step = 0; step < length; step++)
            {
                int k = reverse ? length - 1 - step : step;
                int index = (o * length + k) * inner + i;
                if (floats is not null)
                {
                    if (!exclusive) floatSum += x.Floats![index];
                    floats[index] = floatSum;
                    if (exclusive) floatSum += x.Floats![index];
                }
                else
                {
                    if (!exclusive) integerSum += x.Integers![index];
                    integers![index] = ConstantTensor.Wrap(x.Type, integerSum);
                    if (exclusive) integerSum += x.Integers![index];
                }
            }
        }

        return floats is not null ? ConstantTensor.Float(x.Dims, floats) : ConstantTensor.Integer(x.Type, x.Dims, integers!);
    }

    private static long[] BroadcastDims(long[] a, long[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var dims = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            long db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new OnnxEvaluationException($"shapes [{string.Join(",", a)}] and [{string.Join(",", b)}] that do not broadcast");
            dims[i] = da == 1 ? db : da;
        }

        return dims;
    }

    /// <summary>For each element of a tensor of <paramref name="dims"/>, the element of <paramref name="source"/> it reads by broadcasting.</summary>
    private static int[] BroadcastMap(long[] dims, long[] source)
    {
        long[] strides = ConstantTensor.Strides(source);
        var perAxis = new long[dims.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            int s = i - (dims.Length - source.Length);
            perAxis[i] = s >= 0 && source[s] == dims[i] ? strides[s] : 0;
        }

        return AffineMap(dims, perAxis, 0);
    }

    /// <summary>Offsets base + Σ index[a]·stride[a] over every index of <paramref name="dims"/> in row-major order.</summary>
    private static int[] AffineMap(long[] dims, long[] strides, long offset)
    {
        var map = new int[ConstantTensor.ElementCount(dims)];
        var index = new long[dims.Length];
        for (int i = 0; i < map.Length; i++)
        {
            map[i] = (int)offset;
            for (int a = dims.Length - 1; a >= 0; a--)
            {
                index[a]++;
                offset += strides[a];
                if (index[a] < dims[a])
                    break;
                offset -= strides[a] * dims[a];
                index[a] = 0;
            }
        }

        return map;
    }

    private static ConstantTensor Take(ConstantTensor source, int[] map, long[] dims) => source.Floats is { } f
        ? ConstantTensor.Float(dims, map.Select(i => f[i]).ToArray())
        : ConstantTensor.Integer(source.Type, dims, map.Select(i => source.Integers![i]).ToArray());

    private static ConstantTensor Binary(string op, ConstantTensor a, ConstantTensor b)
    {
        if (a.Type != b.Type)
            throw new OnnxEvaluationException($"{op} of {a.Type} and {b.Type}");
        long[] dims = BroadcastDims(a.Dims, b.Dims);
        int[] ma = BroadcastMap(dims, a.Dims), mb = BroadcastMap(dims, b.Dims);
        if (a.Floats is { } fa)
        {
            float[] fb = b.Floats!;
            Func<float, float, float> f = op switch
            {
                "Add" => (x, y) => x + y,
                "Sub" => (x, y) => x - y,
                "Mul" => (x, y) => x * y,
                _ => (x, y) => x / y,
            };
            return ConstantTensor.Float(dims, Enumerable.Range(0, ma.Length).Select(i => f(fa[ma[i]], fb[mb[i]])).ToArray());
        }

        long[] ia = a.Integers!, ib = b.Integers!;
        Func<long, long, long> g = op switch
        {
            "Add" => (x, y) => x + y,
            "Sub" => (x, y) => x - y,
            "Mul" => (x, y) => x * y,
            _ => (x, y) => y == 0 ? throw new OnnxEvaluationException("an integer division by zero") : x / y,
        };
        return ConstantTensor.Integer(a.Type, dims, Enumerable.Range(0, ma.Length).Select(i => ConstantTensor.Wrap(a.Type, g(ia[ma[i]], ib[mb[i]]))).ToArray());
    }

    private static ConstantTensor BitShift(ConstantTensor x, ConstantTensor shift, string direction)
    {
        if (x.Type != shift.Type || x.Type is not (DataType.Uint8 or DataType.Uint16 or DataType.Uint32 or DataType.Uint64))
            throw new OnnxEvaluationException($"BitShift of {x.Type} by {shift.Type} (unsigned integers of one type expected)");
        if (direction is not ("LEFT" or "RIGHT"))
            throw new OnnxEvaluationException($"BitShift direction '{direction}'");
        long[] dims = BroadcastDims(x.Dims, shift.Dims);
        int[] mx = BroadcastMap(dims, x.Dims), ms = BroadcastMap(dims, shift.Dims);
        long[] a = x.Integers!, b = shift.Integers!;
        var result = new long[mx.Length];
        for (int i = 0; i < result.Length; i++)
        {
            ulong value = (ulong)a[mx[i]];
            int by = (int)Math.Min((ulong)b[ms[i]], 64);
            ulong shifted = by >= 64 ? 0 : direction == "RIGHT" ? value >> by : value << by;
            result[i] = ConstantTensor.Wrap(x.Type, (long)shifted);
        }

        return ConstantTensor.Integer(x.Type, dims, result);
    }

    private static ConstantTensor Mod(ConstantTensor a, ConstantTensor b, bool fmod)
    {
        if (a.Type != b.Type)
            throw new OnnxEvaluationException($"Mod of {a.Type} and {b.Type}");
        long[] dims = BroadcastDims(a.Dims, b.Dims);
        int[] ma = BroadcastMap(dims, a.Dims), mb = BroadcastMap(dims, b.Dims);
        if (a.Floats is { } fa)
        {
            if (!fmod)
                throw new OnnxEvaluationException("Mod of floats without fmod = 1");
            float[] fb = b.Floats!;
            return ConstantTensor.Float(dims, Enumerable.Range(0, ma.Length).Select(i => fa[ma[i]] % fb[mb[i]]).ToArray());
        }

        long[] ia = a.Integers!, ib = b.Integers!;
        var result = new long[ma.Length];
        for (int i = 0; i < result.Length; i++)
        {
            long x = ia[ma[i]], y = ib[mb[i]];
            if (y == 0)
                throw new OnnxEvaluationException("an integer Mod by zero");
            long r = x % y;
            // fmod = 0: the result takes the divisor's sign (like Python's %); fmod = 1: the dividend's (like C's fmod).
            if (!fmod && r != 0 && (r < 0) != (y < 0))
                r += y;
            result[i] = ConstantTensor.Wrap(a.Type, r);
        }

        return ConstantTensor.Integer(a.Type, dims, result);
    }

    private static ConstantTensor NonZero(ConstantTensor x)
    {
        int rank = Math.Max(x.Dims.Length, 1);
        var hits = new List<int>();
        for (int i = 0; i < x.Count; i++)
            if (x[i] != 0)
                hits.Add(i);
        long[] strides = x.Dims.Length == 0 ? [1] : ConstantTensor.Strides(x.Dims);
        var result = new long[rank * hits.Count];
        for (int h = 0; h < hits.Count; h++)
        {
            long rest = hits[h];
            for (int d = 0; d < rank; d++)
            {
                result[d * hits.Count + h] = rest / strides[d];
                rest %= strides[d];
            }
        }

        return ConstantTensor.Integer(DataType.Int64, [rank, hits.Count], result);
    }

    private static ConstantTensor Range(ConstantTensor start, ConstantTensor limit, ConstantTensor delta)
    {
        if (start.Count != 1 || limit.Count != 1 || delta.Count != 1 || start.Type != limit.Type || start.Type != delta.Type)
            throw new OnnxEvaluationException("Range of three scalars of one type");
        double from = start[0], to = limit[0], step = delta[0];
        if (step == 0)
            throw new OnnxEvaluationException("Range with delta 0");
        long count = Math.Max((long)Math.Ceiling((to - from) / step), 0);
        if (start.Floats is not null)
            return ConstantTensor.Float([count], Enumerable.Range(0, checked((int)count)).Select(i => (float)(start.Floats[0] + i * delta.Floats![0])).ToArray());
        long first = start.Integers![0], by = delta.Integers![0];
        return ConstantTensor.Integer(start.Type, [count], Enumerable.Range(0, checked((int)count)).Select(i => ConstantTensor.Wrap(start.Type, first + i * by)).ToArray());
    }

    private static ConstantTensor MatMul(ConstantTensor a, ConstantTensor b)
    {
        if (a.Floats is not { } fa || b.Floats is not { } fb)
            throw new OnnxEvaluationException($"MatMul of {a.Type} and {b.Type} (only float is evaluated)");
        if (a.Dims.Length is not (1 or 2) || b.Dims.Length is not (1 or 2))
            throw new OnnxEvaluationException($"MatMul of ranks {a.Dims.Length} and {b.Dims.Length} (only 1 and 2 are evaluated)");
        // A 1-D operand is a row (left) or a column (right) vector whose extra dimension is dropped from the result.
        long rows = a.Dims.Length == 2 ? a.Dims[0] : 1, inner = a.Dims[^1];
        long innerB = b.Dims[0], cols = b.Dims.Length == 2 ? b.Dims[1] : 1;
        if (inner != innerB)
            throw new OnnxEvaluationException($"MatMul of [{string.Join(",", a.Dims)}] and [{string.Join(",", b.Dims)}]");
        var result = new float[rows * cols];
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++)
            {
                float sum = 0f;
                for (long k = 0; k < inner; k++)
                    sum += fa[r * inner + k] * fb[k * cols + c];
                result[r * cols + c] = sum;
            }

        long[] dims = (a.Dims.Length, b.Dims.Length) switch
        {
            (2, 2) => [rows, cols],
            (2, 1) => [rows],
            (1, 2) => [cols],
            _ => [],
        };
        return ConstantTensor.Float(dims, result);
    }

    private static ConstantTensor ScatterElements(ConstantTensor data, ConstantTensor indices, ConstantTensor updates, long axisAttribute, string reduction)
    {
        if (data.Type != updates.Type || !indices.Dims.SequenceEqual(updates.Dims) || indices.Dims.Length != data.Dims.Length)
            throw new OnnxEvaluationException(
                $"ScatterElements of data [{string.Join(",", data.Dims)}], indices [{string.Join(",", indices.Dims)}], updates [{string.Join(",", updates.Dims)}]");
        if (reduction != "none")
            throw new OnnxEvaluationException($"ScatterElements with reduction '{reduction}', which the inspector does not evaluate");
        int axis = Axis(axisAttribute, data.Dims.Length, "ScatterElements");
        long[] strides = ConstantTensor.Strides(data.Dims);
        long[] withoutAxis = (long[])strides.Clone();
        withoutAxis[axis] = 0;
        int[] targets = AffineMap(updates.Dims, withoutAxis, 0);
        long[] index = Values(indices);
        var floats = data.Floats is null ? null : (float[])data.Floats.Clone();
        var integers = data.Integers is null ? null : (long[])data.Integers.Clone();
        long dim = data.Dims[axis];
        for (int k = 0; k < targets.Length; k++)
        {
            long i = index[k] < 0 ? index[k] + dim : index[k];
            if (i < 0 || i >= dim)
                throw new OnnxEvaluationException($"ScatterElements index {index[k]} outside dimension {dim}");
            long target = targets[k] + i * strides[axis];
            if (floats is not null)
                floats[target] = updates.Floats![k];
            else
                integers![target] = updates.Integers![k];
        }

        return floats is not null ? ConstantTensor.Float(data.Dims, floats) : ConstantTensor.Integer(data.Type, data.Dims, integers!);
    }

    private static ConstantTensor Reshape(ConstantTensor data, ConstantTensor shapeTensor, bool allowZero)
    {
        long[] shape = (long[])Values(shapeTensor).Clone();
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 0 && !allowZero)
                shape[i] = i < data.Dims.Length ? data.Dims[i] : throw new OnnxEvaluationException("Reshape copies a dimension the input does not have");
            if (shape[i] == -1)
            {
                if (inferred >= 0)
                    throw new OnnxEvaluationException("Reshape with two -1 dimensions");
                inferred = i;
            }
            else
            {
                known *= shape[i];
            }
        }

        if (inferred >= 0)
            shape[inferred] = known == 0 ? 0 : data.Count / known;
        if (ConstantTensor.ElementCount(shape) != data.Count)
            throw new OnnxEvaluationException($"Reshape of {data.Count} elements to [{string.Join(",", shape)}]");
        return data.WithDims(shape);
    }

    private static ConstantTensor[] Split(NodeProto node, ConstantTensor input, ConstantTensor? splitTensor, long opset)
    {
        int axis = Axis(Int(node, "axis", 0), input.Dims.Length, "Split");
        int outputs = node.Output.Count;
        long length = input.Dims[axis];
        long[] sizes;
        if ((opset >= 13 ? splitTensor is null ? null : Values(splitTensor) : Ints(node, "split")) is { Length: > 0 } given)
        {
            sizes = given;
        }
        else if (Int(node, "num_outputs", 0) is > 0 and var count)
        {
            long chunk = (length + count - 1) / count;
            sizes = Enumerable.Range(0, (int)count).Select(i => Math.Max(0, Math.Min(chunk, length - i * chunk))).ToArray();
        }
        else
        {
            sizes = length % outputs == 0
                ? Enumerable.Repeat(length / outputs, outputs).ToArray()
                : throw new OnnxEvaluationException($"Split of {length} into {outputs} equal parts");
        }

        if (sizes.Length != outputs || sizes.Sum() != length)
            throw new OnnxEvaluationException($"Split sizes [{string.Join(",", sizes)}] for a dimension of {length} and {outputs} outputs");
        var results = new ConstantTensor[outputs];
        long start = 0;
        for (int i = 0; i < outputs; i++)
        {
            var starts = new long[input.Dims.Length];
            var ends = (long[])input.Dims.Clone();
            starts[axis] = start;
            ends[axis] = start + sizes[i];
            results[i] = Slice(input, starts, ends, null, null);
            start += sizes[i];
        }

        return results;
    }

    private static ConstantTensor Slice(ConstantTensor data, long[] starts, long[] ends, long[]? axes, long[]? steps)
    {
        int rank = data.Dims.Length;
        long[] begin = new long[rank], step = Enumerable.Repeat(1L, rank).ToArray(), dims = (long[])data.Dims.Clone();
        axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        if (ends.Length != starts.Length || axes.Length != starts.Length || (steps is not null && steps.Length != starts.Length))
            throw new OnnxEvaluationException("Slice with starts, ends, axes and steps of different lengths");
        for (int i = 0; i < axes.Length; i++)
        {
            int axis = Axis(axes[i], rank, "Slice");
            long d = data.Dims[axis], s = starts[i], e = ends[i], k = steps?[i] ?? 1;
            if (k == 0)
                throw new OnnxEvaluationException("Slice with step 0");
            if (s < 0) s += d;
            if (e < 0) e += d;
            if (k > 0)
            {
                s = Math.Clamp(s, 0, d);
                e = Math.Clamp(e, 0, d);
                dims[axis] = e > s ? (e - s + k - 1) / k : 0;
            }
            else
            {
                s = Math.Clamp(s, 0, d - 1);
                e = Math.Clamp(e, -1, d - 1);
                dims[axis] = s > e ? (s - e - k - 1) / -k : 0;
            }

            begin[axis] = s;
            step[axis] = k;
        }

        long[] strides = ConstantTensor.Strides(data.Dims);
        long offset = Enumerable.Range(0, rank).Sum(a => begin[a] * strides[a]);
        return Take(data, AffineMap(dims, Enumerable.Range(0, rank).Select(a => strides[a] * step[a]).ToArray(), offset), dims);
    }

    private static ConstantTensor Concat(IReadOnlyList<ConstantTensor> parts, long axisAttribute)
    {
        ConstantTensor first = parts[0];
        int axis = Axis(axisAttribute, first.Dims.Length, "Concat");
        if (parts.Any(p => p.Type != first.Type || p.Dims.Length != first.Dims.Length
                || Enumerable.Range(0, first.Dims.Length).Any(a => a != axis && p.Dims[a] != first.Dims[a])))
            throw new OnnxEvaluationException("Concat of tensors whose types or other dimensions differ");
        long[] dims = (long[])first.Dims.Clone();
        dims[axis] = parts.Sum(p => p.Dims[axis]);
        int outer = ConstantTensor.ElementCount(dims[..axis]);
        var map = new List<(ConstantTensor Part, int Index)>(ConstantTensor.ElementCount(dims));
        for (int o = 0; o < outer; o++)
        foreach (ConstantTensor part in parts)
        {
            int block = part.Count / Math.Max(outer, 1);
            for (int i = 0; i < block; i++)
                map.Add((part, o * block + i));
        }

        return first.Floats is not null
            ? ConstantTensor.Float(dims, map.Select(m => m.Part.Floats![m.Index]).ToArray())
            : ConstantTensor.Integer(first.Type, dims, map.Select(m => m.Part.Integers![m.Index]).ToArray());
    }

    private static ConstantTensor Squeeze(ConstantTensor data, long[]? axes)
    {
        var drop = axes?.Select(a => Axis(a, data.Dims.Length, "Squeeze")).ToHashSet()
            ?? Enumerable.Range(0, data.Dims.Length).Where(a => data.Dims[a] == 1).ToHashSet();
        if (drop.Any(a => data.Dims[a] != 1))
            throw new OnnxEvaluationException($"Squeeze of a dimension other than 1 in [{string.Join(",", data.Dims)}]");
        return data.WithDims(data.Dims.Where((_, a) => !drop.Contains(a)).ToArray());
    }

    private static ConstantTensor Unsqueeze(ConstantTensor data, long[] axes)
    {
        int rank = data.Dims.Length + axes.Length;
        var insert = axes.Select(a => Axis(a, rank, "Unsqueeze")).ToHashSet();
        var dims = new long[rank];
        for (int a = 0, source = 0; a < rank; a++)
            dims[a] = insert.Contains(a) ? 1 : data.Dims[source++];
        return data.WithDims(dims);
    }

    private static ConstantTensor Gather(ConstantTensor data, ConstantTensor indices, long axisAttribute)
    {
        int axis = Axis(axisAttribute, data.Dims.Length, "Gather");
        (int outer, int length, int inner) = Around(data.Dims, axis);
        long[] index = Values(indices);
        long[] dims = [.. data.Dims[..axis], .. indices.Dims, .. data.Dims[(axis + 1)..]];
        var map = new int[ConstantTensor.ElementCount(dims)];
        int m = 0;
        for (int o = 0; o < outer; o++)
        foreach (long raw in index)
        {
            long j = raw < 0 ? raw + length : raw;
            if (j < 0 || j >= length)
                throw new OnnxEvaluationException($"Gather index {raw} outside dimension {length}");
            for (int i = 0; i < inner; i++)
                map[m++] = (int)((o * length + j) * inner + i);
        }

        return Take(data, map, dims);
    }

    private static ConstantTensor Transpose(ConstantTensor data, long[]? perm)
    {
        int rank = data.Dims.Length;
        perm ??= Enumerable.Range(0, rank).Reverse().Select(a => (long)a).ToArray();
        if (perm.Length != rank || perm.Distinct().Count() != rank || perm.Any(p => p < 0 || p >= rank))
            throw new OnnxEvaluationException($"Transpose perm [{string.Join(",", perm)}] for rank {rank}");
        long[] strides = ConstantTensor.Strides(data.Dims);
        long[] dims = perm.Select(p => data.Dims[p]).ToArray();
        return Take(data, AffineMap(dims, perm.Select(p => strides[p]).ToArray(), 0), dims);
    }

    private static ConstantTensor Expand(ConstantTensor data, long[] shape)
    {
        long[] dims = BroadcastDims(data.Dims, shape);
        return Take(data, BroadcastMap(dims, data.Dims), dims);
    }

    private static ConstantTensor Dequantize(ConstantTensor x, ConstantTensor scale, ConstantTensor? zeroPoint, long axisAttribute)
    {
        if (x.Integers is null || scale.Floats is null)
            throw new OnnxEvaluationException($"DequantizeLinear of {x.Type} with a {scale.Type} scale");
        long[] zero = zeroPoint?.Integers ?? new long[scale.Count];
        if (zero.Length != scale.Count)
            throw new OnnxEvaluationException("DequantizeLinear with scale and zero point of different sizes");
        var result = new float[x.Count];
        if (scale.Dims.Length == 0 || (scale.Count == 1 && scale.Dims.Length == 1 && x.Dims.Length == 0))
        {
            for (int i = 0; i < result.Length; i++)
                result[i] = (x.Integers[i] - zero[0]) * scale.Floats[0];
            return ConstantTensor.Float(x.Dims, result);
        }

        // Per-axis: one scale per slice along the axis (ONNX Runtime computes (int32)(x - zero point) * scale in float).
        int axis = Axis(axisAttribute, x.Dims.Length, "DequantizeLinear");
        (int outer, int length, int inner) = Around(x.Dims, axis);
        if (scale.Count != length)
            throw new OnnxEvaluationException($"DequantizeLinear with {scale.Count} scales for a dimension of {length}");
        for (int o = 0; o < outer; o++)
        for (int c = 0; c < length; c++)
        for (int i = 0; i < inner; i++)
        {
            int index = (o * length + c) * inner + i;
            result[index] = (x.Integers[index] - zero[c]) * scale.Floats[c];
        }

        return ConstantTensor.Float(x.Dims, result);
    }
}
