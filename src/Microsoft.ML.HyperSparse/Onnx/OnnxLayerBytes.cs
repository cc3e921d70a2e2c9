using Google.Protobuf;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// Charges the bytes of the graph entries (initializers, nodes) that rebuild layer weights to the layers: an entry only one
/// layer's weight is made from goes to that layer; an entry several layers share (the Compact value tensor, gap stream and
/// decode chain) is divided among them in proportion to their kept weights (equally when none keeps any), the bytes left by
/// rounding down going to the earliest of them. The writer and the inspector both use this rule, so their figures agree.
/// </summary>
internal static class OnnxLayerBytes
{
    /// <summary>Bytes per layer, in the order of <paramref name="layers"/>.</summary>
    /// <param name="layers">Per layer: the graph entries its weight is computed from, and its kept (non-zero) weight count.</param>
    public static long[] Attribute(IReadOnlyList<(IReadOnlyCollection<IMessage> Sources, long Kept)> layers)
    {
        var readers = new Dictionary<IMessage, List<int>>(ReferenceEqualityComparer.Instance);
        var order = new List<IMessage>();
        for (int i = 0; i < layers.Count; i++)
        {
            foreach (IMessage entry in layers[i].Sources)
            {
                if (!readers.TryGetValue(entry, out List<int>? list))
                {
                    readers[entry] = list = [];
                    order.Add(entry);
                }

                list.Add(i);
            }
        }

        var bytes = new long[layers.Count];
        foreach (IMessage entry in order)
        {
            List<int> sharing = readers[entry];
            long size = OnnxProtos.FieldBytes(entry);
            long totalKept = sharing.Sum(i => layers[i].Kept);
            long assigned = 0;
            foreach (int i in sharing)
            {
                long share = totalKept == 0 ? size / sharing.Count : (long)(size * (double)layers[i].Kept / totalKept);
                bytes[i] += share;
                assigned += share;
            }

            for (int j = 0; assigned < size; j = (j + 1) % sharing.Count, assigned++)
                bytes[sharing[j]]++;
        }

        return bytes;
    }
}
