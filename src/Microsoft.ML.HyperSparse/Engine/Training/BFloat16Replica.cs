using System.Globalization;
using Microsoft.ML.HyperSparse.Engine.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>The arithmetic of the training step's forward and backward passes.</summary>
internal enum TrainingPrecision
{
    /// <summary>Everything in float32, as the paper's reference code trains.</summary>
    Float32,

    /// <summary>
    /// Mixed precision, what PyTorch's <c>torch.autocast("cpu", torch.bfloat16)</c> does for a CNN: convolutions and linear
    /// layers compute in bfloat16 on a bfloat16 copy of their weights; batch norm keeps float32 scale, shift and statistics
    /// (libtorch's mixed-type batch norm), the loss is computed in float32, and the weights the optimiser, the HyperSparse
    /// term, the mask, the probe, checkpoints and the export see stay float32 (the gradients are cast back). Pays on CPUs
    /// with native bfloat16 (AVX512-BF16, AMX); see docs/bench-step.md for the measured speed and accuracy.
    /// </summary>
    BFloat16,
}

/// <summary>
/// The bfloat16 compute copy of a float32 network for <see cref="TrainingPrecision.BFloat16"/>. TorchSharp has no autocast,
/// so the cast is done per step, by hand: <see cref="Forward"/> copies the float32 ("master") convolution and linear weights
/// into the copy's bfloat16 ones and runs the copy; after backward, <see cref="CopyGradientsToMaster"/> writes the
/// bfloat16 gradients into the master weights' float32 gradients. Batch norm modules of the copy (and any layer kept in
/// float32) hold aliases of the master's parameters and statistics — the same memory — so the optimiser's updates are
/// seen at once and the running statistics are updated in the master's tensors; their gradients are copied like the others.
/// </summary>
internal sealed class BFloat16Replica : IDisposable
{
    private readonly ImageClassifier copy;
    /// <summary>Each parameter of the copy with the master's; Aliased = the same memory (float32), else a bfloat16 copy.</summary>
    private readonly List<(Parameter Master, Parameter Copy, bool Aliased)> pairs = new();
    private readonly List<Action> hooks = new();
    private readonly List<Float32Layer> float32Layers = new();

    /// <param name="master">The float32 network being trained.</param>
    /// <param name="architecture">Its architecture (the copy is built the same way).</param>
    /// <param name="channelsLast">Give the copy's convolution weights NHWC strides (<see cref="TrainingOptions.ChannelsLast"/>).</param>
    /// <param name="tolerance">The largest relative error of a layer in bfloat16 (<see cref="Tolerance"/>; a test seam).</param>
    public BFloat16Replica(ImageClassifier master, Architecture architecture, bool channelsLast, double tolerance = Tolerance)
    {
        ArgumentNullException.ThrowIfNull(master);
        // The copy's random initialisation is overwritten on every step; keep it from moving libtorch's generator.
        var rng = torch.random.get_rng_state();
        copy = ModelFactory.Create(architecture, master.Input, master.ClassCount);
        try
        {
            var inputs = TraceLayerInputs(copy);
            var masterModules = master.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
            foreach (var (name, module) in copy.named_modules())
            {
                switch (module)
                {
                    case BatchNorm2d norm when masterModules.GetValueOrDefault(name) is BatchNorm2d source:
                        Alias(norm, source);
                        break;
                    case Conv2d or Linear:
                        var layer = (nn.Module<Tensor, Tensor>)module;
                        var trace = inputs.GetValueOrDefault(name)
                                    ?? throw new InvalidOperationException($"Layer '{name}' of the {architecture} network did not run in a forward pass.");
                        var error = BFloat16Error(layer, trace.Shape, trace.RequiresGrad);
                        if (error <= tolerance)
                        {
                            module.to(ScalarType.BFloat16);
                            break;
                        }
                        // libtorch's bfloat16 kernel is wrong for this layer on this CPU: the layer runs in float32 on the
                        // master's own weights, its input cast up and its output cast down.
                        var sourceLayer = masterModules.GetValueOrDefault(name)
                                          ?? throw new InvalidOperationException($"Layer '{name}' of the bfloat16 copy has no counterpart in the {architecture} network.");
                        AliasWeights(module, sourceLayer);
                        hooks.Add(layer.register_forward_pre_hook((_, x) => x.to(ScalarType.Float32)).remove);
                        hooks.Add(layer.register_forward_hook((_, _, y) => y.to(ScalarType.BFloat16)).remove);
                        float32Layers.Add(new Float32Layer(name, error));
                        break;
                    case BatchNorm2d:
                        throw new InvalidOperationException($"Batch norm '{name}' of the bfloat16 copy has no counterpart in the {architecture} network.");
                    default:
                        if (module.named_parameters(recurse: false).Any())
                            throw new NotSupportedException($"Layer '{name}' ({module.GetType().Name}) has parameters the bfloat16 step does not handle.");
                        break;
                }
            }
            if (channelsLast) copy.SetChannelsLast(true);
            var masterParameters = master.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
            foreach (var (name, parameter) in copy.named_parameters())
            {
                var source = masterParameters.GetValueOrDefault(name)
                             ?? throw new InvalidOperationException($"Parameter '{name}' of the bfloat16 copy has no counterpart in the {architecture} network.");
                if (!source.shape.SequenceEqual(parameter.shape))
                    throw new InvalidOperationException($"Parameter '{name}': the bfloat16 copy is [{string.Join(", ", parameter.shape)}], the network [{string.Join(", ", source.shape)}].");
                pairs.Add((source, parameter, parameter.dtype == ScalarType.Float32));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        finally
        {
            torch.random.set_rng_state(rng);
            rng.Dispose();
        }
    }

    /// <summary>
    /// Largest relative error (‖bf16 − fp32‖ / ‖fp32‖) of a layer's output and gradients tolerated before the layer is kept in
    /// float32. bfloat16 rounding gives ≈ 0.3 %; libtorch 2.10's wrong kernels on an AMD EPYC (AVX512-BF16) gave 4.5–97 %
    /// (any convolution whose output channels are not a multiple of 16, and the input gradient when the input channels are not).
    /// </summary>
    internal const double Tolerance = 0.02;

    /// <summary>A layer the copy runs in float32 because libtorch's bfloat16 kernel disagreed with float32 by <paramref name="RelativeError"/>.</summary>
    internal sealed record Float32Layer(string Name, double RelativeError);

    /// <summary>The layers kept in float32 (see <see cref="Tolerance"/>).</summary>
    public IReadOnlyList<Float32Layer> Float32Layers => float32Layers;

    /// <summary>
    /// For people (the training report's notes, a benchmark's log): which layers train in float32 and why; null when every
    /// convolution and linear layer computes in bfloat16.
    /// </summary>
    public string? Float32Note => float32Layers.Count == 0 ? null :
        "bfloat16: libtorch's bfloat16 kernels disagreed with float32 on this CPU for " +
        string.Join(", ", float32Layers.Select(l => string.Create(CultureInfo.InvariantCulture, $"'{l.Name}' ({l.RelativeError:P1} off)"))) +
        string.Create(CultureInfo.InvariantCulture, $" (more than {Tolerance:P0}), so those layers train in float32; the others in bfloat16.");

    /// <summary>The copy (for train/eval mode switches); its batch norm tensors are the master's.</summary>
    public ImageClassifier Network => copy;

    /// <summary>The float32 weights that have a bfloat16 copy (convolution and linear weights and biases, but those of layers kept in float32).</summary>
    public int CopiedParameterCount => pairs.Count(p => !p.Aliased);

    /// <summary>
    /// Refreshes the bfloat16 weights from the master (and which of them take gradients), then runs the copy on
    /// <paramref name="images"/> cast to bfloat16. Returns float32 logits, so the loss is computed in float32.
    /// </summary>
    public Tensor Forward(Tensor images)
    {
        using (no_grad())
        {
            foreach (var (master, bf16, aliased) in pairs)
            {
                if (!aliased) bf16.copy_(master);
                if (bf16.requires_grad != master.requires_grad) bf16.requires_grad = master.requires_grad;
            }
        }
        using var input = images.to(ScalarType.BFloat16);
        using var logits = copy.call(input);
        return logits.to(ScalarType.Float32);
    }

    /// <summary>Clears the copy's own gradients (call with the optimiser's zero-grad, before backward).</summary>
    public void ZeroGrad()
    {
        foreach (var (_, bf16, _) in pairs)
        {
            using var grad = bf16.grad;
            grad?.zero_();
        }
    }

    /// <summary>
    /// After backward: each master weight's gradient becomes its copy's gradient in float32 (a weight whose copy got none is
    /// left as it was, as autograd leaves a frozen float32 weight).
    /// </summary>
    public void CopyGradientsToMaster()
    {
        using var _ = no_grad();
        foreach (var (master, bf16, _) in pairs)
        {
            using var grad = bf16.grad;
            if (grad is null) continue;
            using var existing = master.grad;
            if (existing is not null)
            {
                existing.copy_(grad);
                continue;
            }
            using var created = grad.to(ScalarType.Float32);
            master.grad = created;
        }
    }

    /// <summary>Disposes the copy: its aliases of the master's tensors go, the master's memory stays.</summary>
    public void Dispose()
    {
        foreach (var remove in hooks) remove();
        hooks.Clear();
        pairs.Clear();
        copy.Dispose();
    }

    /// <summary>A new tensor object on the same memory as <paramref name="t"/> (its own autograd identity, no gradient history).</summary>
    private static Tensor SameMemory(Tensor t) => t.detach();

    private static Parameter? AliasParameter(Parameter? p) => p is null ? null : new Parameter(SameMemory(p), p.requires_grad);

    // The setters dispose the tensor they replace: the copy's own, never the master's.
    private static void Alias(BatchNorm2d copyNorm, BatchNorm2d source)
    {
        copyNorm.weight = AliasParameter(source.weight)!;
        copyNorm.bias = AliasParameter(source.bias)!;
        copyNorm.running_mean = SameMemory(source.running_mean!);
        copyNorm.running_var = SameMemory(source.running_var!);
        copyNorm.num_batches_tracked = SameMemory(source.num_batches_tracked!);
    }

    private static void AliasWeights(nn.Module copyLayer, nn.Module source)
    {
        switch (copyLayer, source)
        {
            case (Conv2d c, Conv2d s):
                c.weight = AliasParameter(s.weight)!;
                if (s.bias is not null) c.bias = AliasParameter(s.bias)!;
                break;
            case (Linear c, Linear s):
                c.weight = AliasParameter(s.weight)!;
                if (s.bias is not null) c.bias = AliasParameter(s.bias)!;
                break;
            default:
                throw new InvalidOperationException($"Layer types differ: {copyLayer.GetType().Name} in the bfloat16 copy, {source.GetType().Name} in the network.");
        }
    }

    private sealed record LayerInput(long[] Shape, bool RequiresGrad);

    /// <summary>
    /// The input shape of every convolution and linear layer, and whether its input takes a gradient (the first layer's, the
    /// image, does not): one eval-mode forward pass of two random images with autograd on, recorded by pre-forward hooks.
    /// </summary>
    private static Dictionary<string, LayerInput> TraceLayerInputs(ImageClassifier network)
    {
        var seen = new Dictionary<string, LayerInput>(StringComparer.Ordinal);
        var removers = new List<Action>();
        using var scope = NewDisposeScope();
        try
        {
            foreach (var (name, module) in network.named_modules())
                if (module is Conv2d or Linear)
                    removers.Add(((nn.Module<Tensor, Tensor>)module).register_forward_pre_hook((_, x) =>
                    {
                        seen.TryAdd(name, new LayerInput(x.shape, x.requires_grad));
                        return x;
                    }).remove);
            network.eval();
            var input = randn(2, network.Input.Channels, network.Input.Height, network.Input.Width);
            _ = network.call(input);
        }
        finally
        {
            foreach (var remove in removers) remove();
            network.train();
        }
        return seen;
    }

    /// <summary>
    /// The relative error of <paramref name="layer"/> computed in bfloat16 against float32, on random input of the shape
    /// it sees (batch 2): the output, the weight's gradient and, when the input takes one, the input's gradient — the
    /// largest of the three. Leaves the layer in float32.
    /// </summary>
    private static double BFloat16Error(nn.Module<Tensor, Tensor> layer, long[] inputShape, bool inputNeedsGradient)
    {
        using var scope = NewDisposeScope();
        var shape = inputShape.ToArray();
        shape[0] = 2;
        var x = randn(shape);
        Tensor Run(ScalarType type, out Tensor? inputGradient, out Tensor weightGradient)
        {
            layer.to(type);
            var w = layer.named_parameters(recurse: false).First(p => p.name == "weight").parameter;
            var input = x.to(type).detach().requires_grad_(inputNeedsGradient);
            var y = layer.call(input).to(ScalarType.Float32);
            using var upstream = Upstream(y);
            (y * upstream).sum().backward();
            inputGradient = inputNeedsGradient ? input.grad!.to(ScalarType.Float32) : null;
            weightGradient = w.grad!.to(ScalarType.Float32);
            return y.detach();
        }
        var expected = Run(ScalarType.Float32, out var gx32, out var gw32);
        foreach (var p in layer.parameters()) p.grad = null!;
        var found = Run(ScalarType.BFloat16, out var gx16, out var gw16);
        layer.to(ScalarType.Float32);
        foreach (var p in layer.parameters()) p.grad = null!;
        var error = Math.Max(Relative(found, expected), Relative(gw16, gw32));
        if (gx16 is not null) error = Math.Max(error, Relative(gx16, gx32!));
        return error;
    }

    /// <summary>The same pseudo-random upstream gradient for both precisions (seeded by the shape).</summary>
    private static Tensor Upstream(Tensor y)
    {
        using var generator = new torch.Generator((ulong)y.numel());
        return randn(y.shape, generator: generator);
    }

    private static double Relative(Tensor found, Tensor expected)
    {
        var norm = expected.norm().item<float>();
        var difference = (found - expected).norm().item<float>();
        return norm == 0 ? (difference == 0 ? 0 : double.PositiveInfinity) : difference / norm;
    }
}
