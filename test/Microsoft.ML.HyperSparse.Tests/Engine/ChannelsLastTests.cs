using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Training;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// Training can run with channels-last (NHWC) convolution weights (TrainingOptions.ChannelsLast, off by default), a speed
/// lever of libtorch's oneDNN kernels. The switch must keep the parameters (the optimiser holds them) and their values, change the layout only, and whatever comes
/// out of the trainer is contiguous NCHW again, so the exporter, checkpoints and callers see the layout they always saw.
/// </summary>
[TestClass]
public sealed class ChannelsLastTests
{
    [ClassInitialize]
    public static void Load(TestContext _) => EngineTestTensors.Load();

    [ClassCleanup]
    public static void Release() => EngineTestTensors.Release();

    [TestMethod]
    public void ImageClassifier_SetChannelsLast_KeepsParametersAndValues_ChangesOnlyTheLayout()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var model = ModelFactory.Create(Architecture.ResNet20, new ImageShape(3, 16, 16), 10);
        model.eval();
        var parameters = model.parameters().ToList();
        var before = parameters.Select(Values).ToList();
        var input = randn(4, 3, 16, 16);
        var logitsBefore = Values(model.call(input));

        model.SetChannelsLast(true);

        var after = model.parameters().ToList();
        Assert.AreEqual(parameters.Count, after.Count);
        for (var i = 0; i < after.Count; i++)
        {
            Assert.IsTrue(ReferenceEquals(parameters[i], after[i]) || parameters[i].Handle == after[i].Handle, $"parameter {i} is the same object");
            CollectionAssert.AreEqual(before[i], Values(after[i]), $"parameter {i} keeps its values");
            if (after[i].dim() == 4)
            {
                // A 1×1 kernel or a single input channel is both layouts at once.
                if (after[i].shape[1] > 1 && after[i].shape[2] * after[i].shape[3] > 1)
                    Assert.IsFalse(after[i].is_contiguous(), $"convolution weight {i} has NHWC strides");
                using var nhwc = after[i].permute(0, 2, 3, 1);
                Assert.IsTrue(nhwc.is_contiguous(), $"convolution weight {i} is dense in NHWC order");
            }
        }
        var logitsAfter = Values(model.call(input));
        for (var j = 0; j < logitsBefore.Length; j++)
            Assert.AreEqual(logitsBefore[j], logitsAfter[j], 1e-4f, $"logit {j}: the same network in another layout");

        model.SetChannelsLast(false);
        foreach (var p in model.parameters()) Assert.IsTrue(p.is_contiguous(), "back to contiguous NCHW");
        var back = model.parameters().Select(Values).ToList();
        for (var i = 0; i < back.Count; i++) CollectionAssert.AreEqual(before[i], back[i], $"parameter {i} unchanged by the round trip");
    }

    /// <summary>
    /// The same network in both layouts, one training step on the same batch: the loss and every parameter's gradient agree
    /// within float rounding of different kernels (LeNet-5: a single-channel input, so only conv2 changes layout; ResNet-20
    /// with three channels).
    /// </summary>
    [TestMethod]
    public void ChannelsLast_GradientsEqualNchwGradients()
    {
        foreach (var (arch, channels, size) in new[] { (Architecture.LeNet5, 1, 28), (Architecture.ResNet20, 3, 16) })
        {
            using var scope = NewDisposeScope();
            manual_seed(9);
            using var nchw = ModelFactory.Create(arch, new ImageShape(channels, size, size), 10);
            using var nhwc = ModelFactory.Create(arch, new ImageShape(channels, size, size), 10);
            CopyState(nchw, nhwc);
            nhwc.SetChannelsLast(true);
            nchw.train();
            nhwc.train();
            var x = randn(8, channels, size, size);
            var y = randint(0, 10, 8, dtype: ScalarType.Int64);
            var lossA = TorchSharp.torch.nn.functional.cross_entropy(nchw.call(x), y);
            var xl = channels > 1 ? x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) : x;
            var lossB = TorchSharp.torch.nn.functional.cross_entropy(nhwc.call(xl), y);
            lossA.backward();
            lossB.backward();
            Assert.AreEqual(lossA.item<float>(), lossB.item<float>(), 1e-4f, $"{arch}: loss");
            var a = nchw.named_parameters().ToList();
            var b = nhwc.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in a)
            {
                var ga = Values(p.grad!);
                var gb = Values(b[name].grad!);
                var scale = Math.Max(1e-6f, ga.Max(MathF.Abs));
                for (var j = 0; j < ga.Length; j++)
                    if (MathF.Abs(ga[j] - gb[j]) > 1e-3f * scale)
                        Assert.Fail($"{arch}: gradient of '{name}' element {j}: NCHW {ga[j]} vs channels-last {gb[j]} (largest {scale})");
            }
        }
    }

    /// <summary>A whole ART run in channels-last on a ResNet: the returned model and mask are contiguous, and the mask's zeros are the model's.</summary>
    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void ArtTrainer_ChannelsLast_ReturnsContiguousModelAndMask()
    {
        Assert.IsFalse(new TrainingOptions().ChannelsLast, "NCHW is the default (channels-last measured lower accuracy)");
        var train = BrightHalves(48, 3, 12, seed: 3);
        var options = new TrainingOptions
        {
            Architecture = Architecture.ResNet20,
            PruningRate = 0.9,
            WarmupEpochs = 1,
            MaxArtEpochs = 1,
            FineTuneEpochs = 1,
            LambdaInit = 1e-4,
            LambdaGrowth = 1.5,
            LearningRateSteps = Array.Empty<int>(),
            BatchSize = 16,
            LearningRate = 0.05,
            CropPadding = 0,
            HorizontalFlip = false,
            Seed = 5,
            Threads = 1,
            ChannelsLast = true,
        };
        using var result = new ArtTrainer(options).Train(train, null, Normalization.FromData(train, 1f / 255));

        foreach (var p in result.Model.parameters()) Assert.IsTrue(p.is_contiguous(), "the returned model is contiguous NCHW");
        var layers = result.Model.PrunableLayers().ToDictionary(l => l.Name);
        foreach (var (name, mask) in result.Mask.Layers)
        {
            Assert.IsTrue(mask.is_contiguous(), $"mask '{name}' is contiguous");
            var kept = Values(mask);
            var weight = Values(layers[name].Weight);
            for (var j = 0; j < kept.Length; j++)
                if (kept[j] == 0) Assert.AreEqual(0f, weight[j], $"'{name}' element {j}: pruned in the mask, zero in the model (same order)");
        }
        Assert.AreEqual(options.PruningRate, result.Report.AchievedSparsity, 0.01, "κ reached");
    }
}
