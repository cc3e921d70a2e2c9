using System.Diagnostics;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

/// <summary>
/// Runs the reference validator, onnx.checker (Debian python3-onnx) with full_check (strict type and shape inference), on
/// every encoding's file, float and full int8. The ResNet test network has a layer with no kept weight, so NNZ = 0 is checked too.
/// </summary>
[TestClass]
public sealed class OnnxCheckerTests
{
    private const string Python = "/usr/bin/python3";
    private const string FullCheck = "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)";

    [TestMethod]
    public void OnnxModelWriter_Write_EveryEncodingPassesOnnxChecker()
    {
        (int probeExit, string probeOutput) = RunPython("import onnx");
        if (probeExit != 0)
            Assert.Inconclusive($"{Python} cannot import onnx (install python3-onnx): {probeOutput}");

        string directory = Directory.CreateTempSubdirectory("hs-onnx-check-").FullName;
        try
        {
            var options = new OnnxExportOptions { PredictedIndexOutputName = "PredictedIndex", LogitsOutputName = "Logits" };
            foreach ((string name, NetworkDescription net) in new[] { ("lenet", TestNetworks.LeNet()), ("resnet", TestNetworks.ResNet()) })
            foreach (OnnxWeightEncoding encoding in Enum.GetValues<OnnxWeightEncoding>())
            {
                string path = Path.Combine(directory, $"{name}-{encoding}.onnx");
                OnnxExportResult result = OnnxModelWriter.WriteFile(net, options with { WeightEncoding = encoding }, path);
                Assert.IsTrue(result.Size.Layers.Any(l => l.Encoding == encoding), $"{name} {encoding}: some layer uses the encoding");
                (int exit, string output) = RunPython(FullCheck, path);
                Assert.AreEqual(0, exit, $"{name} {encoding}: {output}");

                // Full int8 (QuantizeLinear/DequantizeLinear around the activations, DequantizeLinear on the conv weights).
                string full = Path.Combine(directory, $"{name}-{encoding}-int8.onnx");
                OnnxModelWriter.WriteFile(net, options with
                {
                    WeightEncoding = encoding, Quantization = OnnxQuantization.Full, CalibrationPixels = TestNetworks.Pixels(net, 4),
                }, full);
                (exit, output) = RunPython(FullCheck, full);
                Assert.AreEqual(0, exit, $"{name} {encoding} full int8: {output}");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static (int ExitCode, string Output) RunPython(string code, params string[] arguments)
    {
        if (!File.Exists(Python))
            Assert.Inconclusive($"{Python} not found; onnx.checker cannot run.");
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(code);
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr);
    }
}
