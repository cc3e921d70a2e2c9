using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

/// <summary>Runs a serialized model with ONNX Runtime (default session options, CPU).</summary>
internal static class OrtRunner
{
    /// <summary>Every requested output as a flat float array (int64 outputs converted).</summary>
    public static Dictionary<string, float[]> Run(byte[] model, NetworkDescription net, float[] pixels, int batch, params string[] outputs)
    {
        using var session = new InferenceSession(model);
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [batch, net.Channels, net.Height, net.Width]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [net.InputName], [input], outputs);
        var byName = new Dictionary<string, float[]>();
        for (int i = 0; i < outputs.Length; i++)
        {
            OrtValue value = results[i];
            byName[outputs[i]] = value.GetTensorTypeAndShape().ElementDataType == TensorElementType.Int64
                ? value.GetTensorDataAsSpan<long>().ToArray().Select(v => (float)v).ToArray()
                : value.GetTensorDataAsSpan<float>().ToArray();
        }

        return byName;
    }
}
