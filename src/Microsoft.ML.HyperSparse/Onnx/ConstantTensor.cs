using System.Runtime.InteropServices;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// A constant tensor read from an ONNX file or computed from such constants: float32 elements in <see cref="Floats"/>,
/// every integer or bool type widened to <see cref="Integers"/> (values kept within the range of <see cref="Type"/>).
/// </summary>
internal sealed class ConstantTensor
{
    private ConstantTensor(DataType type, long[] dims, float[]? floats, long[]? integers)
    {
        Type = type;
        Dims = dims;
        Floats = floats;
        Integers = integers;
    }

    public DataType Type { get; }

    public long[] Dims { get; }

    /// <summary>Elements when <see cref="Type"/> is float32, else null.</summary>
    public float[]? Floats { get; }

    /// <summary>Elements when <see cref="Type"/> is an integer or bool type, else null.</summary>
    public long[]? Integers { get; }

    public bool IsFloat => Floats is not null;

    public int Count => Floats?.Length ?? Integers!.Length;

    public static ConstantTensor Float(long[] dims, float[] values) => new(DataType.Float, dims, values, null);

    /// <summary>A float16 tensor, its elements held exactly as float32 (every operator but Cast treats it like float32).</summary>
    public static ConstantTensor Half(long[] dims, float[] values) => new(DataType.Float16, dims, values, null);

    /// <summary>An integer tensor; <paramref name="values"/> must already lie in <paramref name="type"/>'s range.</summary>
    public static ConstantTensor Integer(DataType type, long[] dims, long[] values) => new(type, dims, null, values);

    /// <summary>A tensor of <paramref name="type"/> with every element zero.</summary>
    public static ConstantTensor Zeros(DataType type, long[] dims)
    {
        int count = ElementCount(dims);
        return type == DataType.Float ? Float(dims, new float[count]) : Integer(RequireInteger(type), dims, new long[count]);
    }

    /// <summary>The same elements under other dims (the caller checks the count).</summary>
    public ConstantTensor WithDims(long[] dims) => new(Type, dims, Floats, Integers);

    /// <summary>Element <paramref name="index"/> as a double (exact for float32 and for integers up to 2^53).</summary>
    public double this[int index] => Floats is not null ? Floats[index] : Integers![index];

    /// <summary>Element count of <paramref name="dims"/>; throws when it does not fit an array.</summary>
    public static int ElementCount(IReadOnlyList<long> dims)
    {
        long count = 1;
        foreach (long dim in dims)
        {
            if (dim < 0)
                throw new OnnxEvaluationException($"a negative dimension {dim}");
            count *= dim;
            if (count > Array.MaxLength)
                throw new OnnxEvaluationException($"a tensor of more than {Array.MaxLength} elements");
        }

        return (int)count;
    }

    /// <summary>Whether the inspector can hold elements of <paramref name="type"/>.</summary>
    public static bool IsSupported(DataType type) => type is DataType.Float or DataType.Float16 || IsInteger(type);

    public static bool IsInteger(DataType type) => type is DataType.Int8 or DataType.Uint8 or DataType.Int16 or DataType.Uint16
        or DataType.Int32 or DataType.Uint32 or DataType.Int64 or DataType.Uint64 or DataType.Bool;

    public static DataType RequireInteger(DataType type) => IsInteger(type)
        ? type
        : throw new OnnxEvaluationException($"element type {type}, which the inspector does not evaluate");

    /// <summary>Brings an integer into the range of <paramref name="type"/> the way a C cast does (two's complement wrap).</summary>
    public static long Wrap(DataType type, long value) => type switch
    {
        DataType.Int8 => (sbyte)value,
        DataType.Uint8 => (byte)value,
        DataType.Int16 => (short)value,
        DataType.Uint16 => (ushort)value,
        DataType.Int32 => (int)value,
        DataType.Uint32 => (uint)value,
        DataType.Bool => value != 0 ? 1 : 0,
        _ => value,
    };

    /// <summary>Reads an initializer or attribute tensor (raw_data or the typed repeated fields).</summary>
    /// <exception cref="OnnxEvaluationException">External data, an element type the inspector does not hold, or a size mismatch.</exception>
    public static ConstantTensor Read(TensorProto tensor)
    {
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
            throw new OnnxEvaluationException($"tensor '{tensor.Name}' keeps its data in an external file, which the inspector does not read");
        var type = (DataType)tensor.DataType;
        long[] dims = tensor.Dims.ToArray();
        int count = ElementCount(dims);
        if (type == DataType.Float16)
        {
            ushort[] bits = tensor.RawData.Length > 0
                ? MemoryMarshal.Cast<byte, ushort>(RawBytes(tensor, count, 2)).ToArray()
                : tensor.Int32Data.Select(v => (ushort)v).ToArray();
            return Half(dims, Expect(tensor, bits.Select(b => (float)BitConverter.UInt16BitsToHalf(b)).ToArray(), count));
        }

        if (type == DataType.Float)
        {
            float[] values = tensor.RawData.Length > 0
                ? MemoryMarshal.Cast<byte, float>(RawBytes(tensor, count, sizeof(float))).ToArray()
                : tensor.FloatData.ToArray();
            return Float(dims, Expect(tensor, values, count));
        }

        if (!IsInteger(type))
            throw new OnnxEvaluationException($"tensor '{tensor.Name}' has element type {type}, which the inspector does not evaluate");
        long[] integers = tensor.RawData.Length > 0 ? ReadRawIntegers(tensor, type, count) : type switch
        {
            DataType.Int64 => tensor.Int64Data.ToArray(),
            DataType.Uint32 or DataType.Uint64 => tensor.Uint64Data.Select(v => (long)v).ToArray(),
            _ => tensor.Int32Data.Select(v => Wrap(type, v)).ToArray(),
        };
        return Integer(type, dims, Expect(tensor, integers, count));
    }

    private static long[] ReadRawIntegers(TensorProto tensor, DataType type, int count)
    {
        // raw_data is little-endian by the ONNX spec; the inspector (like the writer) runs on little-endian hosts only.
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Reading ONNX raw_data requires a little-endian host.");
        return type switch
        {
            DataType.Int8 => MemoryMarshal.Cast<byte, sbyte>(RawBytes(tensor, count, 1)).ToArray().Select(v => (long)v).ToArray(),
            DataType.Uint8 or DataType.Bool => RawBytes(tensor, count, 1).ToArray().Select(v => Wrap(type, v)).ToArray(),
            DataType.Int16 => MemoryMarshal.Cast<byte, short>(RawBytes(tensor, count, 2)).ToArray().Select(v => (long)v).ToArray(),
            DataType.Uint16 => MemoryMarshal.Cast<byte, ushort>(RawBytes(tensor, count, 2)).ToArray().Select(v => (long)v).ToArray(),
            DataType.Int32 => MemoryMarshal.Cast<byte, int>(RawBytes(tensor, count, 4)).ToArray().Select(v => (long)v).ToArray(),
            DataType.Uint32 => MemoryMarshal.Cast<byte, uint>(RawBytes(tensor, count, 4)).ToArray().Select(v => (long)v).ToArray(),
            _ => MemoryMarshal.Cast<byte, long>(RawBytes(tensor, count, 8)).ToArray(),
        };
    }

    private static ReadOnlySpan<byte> RawBytes(TensorProto tensor, int count, int elementSize)
    {
        ReadOnlySpan<byte> raw = tensor.RawData.Span;
        if (raw.Length != (long)count * elementSize)
            throw new OnnxEvaluationException(
                $"tensor '{tensor.Name}' holds {raw.Length} bytes of raw_data, expected {(long)count * elementSize} for dims [{string.Join(",", tensor.Dims)}]");
        return raw;
    }

    private static T[] Expect<T>(TensorProto tensor, T[] values, int count) => values.Length == count
        ? values
        : throw new OnnxEvaluationException($"tensor '{tensor.Name}' holds {values.Length} elements, expected {count} for dims [{string.Join(",", tensor.Dims)}]");

    /// <summary>
    /// Densifies a <see cref="SparseTensorProto"/>: values [NNZ] placed at linear indices [NNZ] or coordinates [NNZ, rank].
    /// </summary>
    public static ConstantTensor Read(SparseTensorProto sparse)
    {
        if (sparse.Values is null || sparse.Indices is null)
            throw new OnnxEvaluationException("a sparse tensor without values or indices");
        ConstantTensor values = Read(sparse.Values);
        ConstantTensor indices = Read(sparse.Indices);
        long[] dims = sparse.Dims.ToArray();
        int count = ElementCount(dims);
        int nnz = values.Count;
        bool linear = indices.Dims.Length == 1;
        if (indices.IsFloat || (linear ? indices.Count != nnz : indices.Dims.Length != 2 || indices.Dims[0] != nnz || indices.Dims[1] != dims.Length))
            throw new OnnxEvaluationException($"sparse tensor '{sparse.Values.Name}': indices of dims [{string.Join(",", indices.Dims)}] do not fit {nnz} values in [{string.Join(",", dims)}]");

        ConstantTensor dense = Zeros(values.Type, dims);
        long[] strides = Strides(dims);
        for (int k = 0; k < nnz; k++)
        {
            long position = 0;
            if (linear)
            {
                position = indices.Integers![k];
            }
            else
            {
                for (int axis = 0; axis < dims.Length; axis++)
                {
                    long coordinate = indices.Integers![k * dims.Length + axis];
                    if (coordinate < 0 || coordinate >= dims[axis])
                        throw new OnnxEvaluationException($"sparse tensor index {coordinate} outside dimension {dims[axis]}");
                    position += coordinate * strides[axis];
                }
            }

            if (position < 0 || position >= count)
                throw new OnnxEvaluationException($"sparse tensor index {position} outside {count} elements");
            if (dense.Floats is not null)
                dense.Floats[position] = values.Floats![k];
            else
                dense.Integers![position] = values.Integers![k];
        }

        return dense;
    }

    /// <summary>Row-major strides of <paramref name="dims"/> in elements.</summary>
    public static long[] Strides(IReadOnlyList<long> dims)
    {
        var strides = new long[dims.Count];
        long stride = 1;
        for (int axis = dims.Count - 1; axis >= 0; axis--)
        {
            strides[axis] = stride;
            stride *= dims[axis];
        }

        return strides;
    }
}

/// <summary>A constant the inspector cannot compute: an operator or type it does not evaluate, or inconsistent data.</summary>
internal sealed class OnnxEvaluationException(string message) : Exception(message);
