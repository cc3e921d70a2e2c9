using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

/// <summary>
/// Portability: the files score the same in a second runtime outside .NET. Every encoding of the hand-made networks is
/// written with its inputs and the scores of .NET's ONNX Runtime into artifacts/onnx-node-cases; build/onnx-node-check.mjs
/// scores them in onnxruntime-node (installed into artifacts/onnxruntime-node by build/check-onnx-node.sh, which
/// build/test.sh runs first) and must agree within 1e-5.
/// </summary>
/// <remarks>
/// When build/test.sh ran (it sets HYPERSPARSE_REQUIRE_ONNXRUNTIME_NODE=1), a missing node or onnxruntime-node is a
/// failure, so CI cannot pass without the check. A plain <c>dotnet test</c> without the install reports the tests as
/// inconclusive (skipped), with the command that installs it.
/// </remarks>
[TestClass]
public sealed class OnnxRuntimeNodeTests
{
    private const int Batch = 4;
    private const string RequireVariable = "HYPERSPARSE_REQUIRE_ONNXRUNTIME_NODE";
    private static readonly OnnxExportOptions AllOutputs = new() { PredictedIndexOutputName = "PredictedIndex", LogitsOutputName = "Logits" };

    [TestMethod]
    public void OnnxRuntimeNode_EveryEncoding_ScoresEqualDotNetWithin1e5()
    {
        (string node, string modules, string script) = RequireNodeRuntime();
        string folder = Path.Combine(RepositoryRoot(), "artifacts", "onnx-node-cases");
        int written = WriteCases(folder, perturb: false);

        (int exit, string output) = Run(node, script, modules, folder);
        Assert.AreEqual(0, exit, output);
        StringAssert.Contains(output, $"onnx-node-check: {written} models, every output of onnxruntime-node 1.30.0 within 0.00001 of .NET", output);
        foreach (OnnxWeightEncoding encoding in Enum.GetValues<OnnxWeightEncoding>())
            StringAssert.Contains(output, $"ok    lenet-{encoding}: Score", output);
        StringAssert.Contains(output, "ok    resnet-Compact-int8: Score", output);
        StringAssert.Contains(output, "ok    pretrained98-Compact: Score", output);
    }

    [TestMethod]
    public void OnnxRuntimeNode_ScoresOffBy1e4_CheckFailsNamingModelAndOutput()
    {
        // The check itself must be able to fail: the same cases with one expected score moved by 1e-4.
        (string node, string modules, string script) = RequireNodeRuntime();
        string folder = Directory.CreateTempSubdirectory("hs-onnx-node-").FullName;
        try
        {
            WriteCases(folder, perturb: true);
            (int exit, string output) = Run(node, script, modules, folder);
            Assert.AreEqual(1, exit, output);
            StringAssert.Contains(output, "FAIL  lenet-Compact: output 'Score' element 3: node", output);
            StringAssert.Contains(output, "1 mismatch(es) between onnxruntime-node 1.30.0 and .NET", output);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// ML.NET's ImageNet ResNet-18 as a pretrained start makes it (stem read as RGB at unit scale, its preprocessing baked in,
    /// a one-channel graph input replicated to three), magnitude-pruned to κ 0.98 at 32×32: the graph of a compressed
    /// pretrained model, max-pool and broadcasting input included.
    /// </summary>
    private static NetworkDescription CompressedPretrained()
    {
        Microsoft.ML.HyperSparse.Engine.Native.TorchRuntime.EnsureLoaded();
        var weights = Microsoft.ML.HyperSparse.Engine.Pretrained.MLNetResNet18.ReadWeights();
        using var model = new Microsoft.ML.HyperSparse.Engine.Models.ImageNetResNet("ResNet18MLNet",
            Microsoft.ML.HyperSparse.Engine.Models.ImageNetResNet.ResNet18MLNetBlocks, new(3, 32, 32), 10);
        Microsoft.ML.HyperSparse.Engine.Pretrained.PretrainedLoader.Apply(model, weights, keepHead: false);
        Microsoft.ML.HyperSparse.Engine.Pruning.MagnitudePruning.Prune(model.PrunableLayers(), 0.98).Dispose();
        model.eval();
        return model.DescribeNetwork("Features", Microsoft.ML.HyperSparse.Engine.Pretrained.PretrainedLoader.Normalization(weights, 1f / 255), inputChannels: 1);
    }

    /// <summary>Writes every network × encoding with inputs and .NET scores; returns the number of models.</summary>
    private static int WriteCases(string folder, bool perturb)
    {
        if (Directory.Exists(folder))
            Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(folder);
        var cases = new List<object>();
        var networks = new (string Name, NetworkDescription Net)[]
        {
            ("lenet", TestNetworks.LeNet()), ("resnet", TestNetworks.ResNet()), ("wide98", TestNetworks.Wide(0.98)), ("sharedconv", TestNetworks.SharedConv()),
            ("pretrained98", CompressedPretrained()),
        };
        foreach ((string networkName, NetworkDescription net) in networks)
        foreach ((OnnxWeightEncoding encoding, bool quantize) in Enum.GetValues<OnnxWeightEncoding>().Select(e => (e, false)).Append((OnnxWeightEncoding.Compact, true)))
        {
            string name = $"{networkName}-{encoding}{(quantize ? "-int8" : "")}";
            OnnxExportResult export = OnnxModelWriter.Write(net, AllOutputs with { WeightEncoding = encoding, QuantizeWeights = quantize });
            Assert.IsTrue(export.Size.Layers.Any(l => l.Encoding == encoding), $"{name}: some layer uses {encoding}");
            File.WriteAllBytes(Path.Combine(folder, name + ".onnx"), export.Bytes);
            float[] pixels = TestNetworks.Pixels(net, Batch);
            long[] inputDims = [Batch, net.GraphInputChannels, net.Height, net.Width];
            File.WriteAllBytes(Path.Combine(folder, $"{name}.{net.InputName}.bin"), MemoryMarshal.AsBytes(pixels.AsSpan()).ToArray());

            var outputs = new List<object>();
            using var session = new InferenceSession(export.Bytes);
            using var input = OrtValue.CreateTensorValueFromMemory(pixels, inputDims);
            string[] names = ["Score", "PredictedIndex", "Logits"];
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, [net.InputName], [input], names);
            for (int i = 0; i < names.Length; i++)
            {
                OrtValue value = results[i];
                bool isFloat = value.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float;
                byte[] bytes;
                if (isFloat)
                {
                    float[] data = value.GetTensorDataAsSpan<float>().ToArray();
                    if (perturb && name == "lenet-Compact" && names[i] == "Score")
                        data[3] += 1e-4f;
                    bytes = MemoryMarshal.AsBytes(data.AsSpan()).ToArray();
                }
                else
                {
                    bytes = MemoryMarshal.AsBytes(value.GetTensorDataAsSpan<long>()).ToArray();
                }

                string file = $"{name}.{names[i]}.bin";
                File.WriteAllBytes(Path.Combine(folder, file), bytes);
                outputs.Add(new { name = names[i], type = isFloat ? "float32" : "int64", dims = value.GetTensorTypeAndShape().Shape, file });
            }

            cases.Add(new
            {
                name,
                model = name + ".onnx",
                inputs = new[] { new { name = net.InputName, type = "float32", dims = inputDims, file = $"{name}.{net.InputName}.bin" } },
                outputs,
            });
        }

        File.WriteAllText(Path.Combine(folder, "cases.json"), JsonSerializer.Serialize(cases, new JsonSerializerOptions { WriteIndented = true }));
        return cases.Count;
    }

    /// <summary>node, the onnxruntime-node install and the check script; fails or skips (see the class remarks) when absent.</summary>
    private static (string Node, string Modules, string Script) RequireNodeRuntime()
    {
        string root = RepositoryRoot();
        string modules = Path.Combine(root, "artifacts", "onnxruntime-node", "node_modules");
        string script = Path.Combine(root, "build", "onnx-node-check.mjs");
        string? node = FindOnPath("node");
        string? problem = node is null ? "node is not on PATH"
            : !File.Exists(Path.Combine(modules, "onnxruntime-node", "package.json")) ? $"onnxruntime-node is not installed in '{modules}'"
            : null;
        if (problem is null)
            return (node!, modules, script);
        string message = $"The onnxruntime-node portability check cannot run: {problem}. Install it with build/check-onnx-node.sh (build/test.sh does).";
        if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
            Assert.Fail(message + $" {RequireVariable}=1 (set by build/test.sh): this check is required, so it fails rather than skips.");
        Assert.Inconclusive(message);
        throw new UnreachableException();
    }

    private static (int Exit, string Output) Run(string node, string script, string modules, string folder)
    {
        var start = new ProcessStartInfo(node) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(modules);
        start.ArgumentList.Add(folder);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"node {script} did not finish within 3 minutes");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);

    /// <summary>The folder holding HyperSparse.MLNet.sln, found upwards from the test assembly.</summary>
    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "HyperSparse.MLNet.sln")))
                return directory.FullName;
        throw new InvalidOperationException($"HyperSparse.MLNet.sln not found above '{AppContext.BaseDirectory}'.");
    }
}
