using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>Small factories for the ONNX protobuf messages the writer emits.</summary>
internal static class OnnxProtos
{
    /// <summary>Builds a float32 tensor; the data goes to raw_data (little-endian), the most compact form.</summary>
    public static TensorProto Float(string name, ReadOnlySpan<float> values, params long[] dims) =>
        Raw(name, DataType.Float, MemoryMarshal.AsBytes(values), dims);

    /// <summary>Builds an int64 tensor.</summary>
    public static TensorProto Int64(string name, ReadOnlySpan<long> values, params long[] dims) =>
        Raw(name, DataType.Int64, MemoryMarshal.AsBytes(values), dims);

    /// <summary>Builds a uint8 tensor.</summary>
    public static TensorProto UInt8(string name, ReadOnlySpan<byte> values, params long[] dims) =>
        Raw(name, DataType.Uint8, values, dims);

    /// <summary>Builds an int8 tensor.</summary>
    public static TensorProto Int8(string name, ReadOnlySpan<sbyte> values, params long[] dims) =>
        Raw(name, DataType.Int8, MemoryMarshal.AsBytes(values), dims);

    private static TensorProto Raw(string name, DataType type, ReadOnlySpan<byte> bytes, long[] dims)
    {
        // raw_data is defined as little-endian; a big-endian host would need byte swapping, which we do not ship.
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("ONNX export requires a little-endian host (raw_data is little-endian).");

        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.Add(dims);
        return tensor;
    }

    /// <summary>Builds a node of the default domain.</summary>
    public static NodeProto Node(string opType, string? name, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType };
        if (name is not null)
            node.Name = name;
        node.Input.Add(inputs);
        node.Output.Add(output);
        node.Attribute.Add(attributes);
        return node;
    }

    /// <summary>An INT attribute.</summary>
    public static AttributeProto Attr(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A FLOAT attribute.</summary>
    public static AttributeProto Attr(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>An INTS attribute.</summary>
    public static AttributeProto Attr(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.Add(values);
        return attribute;
    }

    /// <summary>A SPARSE_TENSOR attribute (e.g. Constant's <c>sparse_value</c>).</summary>
    public static AttributeProto Attr(string name, SparseTensorProto value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.SparseTensor, SparseTensor = value };

    /// <summary>A tensor value info whose first dimension is the symbolic batch size.</summary>
    public static ValueInfoProto BatchedTensor(string name, DataType elementType, params long[] trailingDims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        foreach (long dim in trailingDims)
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = dim });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = shape } },
        };
    }

    /// <summary>Bytes a message adds to its parent as a repeated field entry (tag + length prefix + body).</summary>
    public static long FieldBytes(IMessage message) => 1 + CodedOutputStream.ComputeMessageSize(message);
}
