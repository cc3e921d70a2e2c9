using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>
/// SGD with PyTorch's semantics (momentum μ, dampening 0, no Nesterov, coupled weight decay on every parameter):
/// g ← grad + wd·w; v ← g on the first step, μ·v + g after; w ← w − lr·v. Written out so the momentum buffers can be
/// checkpointed and a fresh optimiser is exactly a new instance.
/// </summary>
internal sealed class Sgd : IDisposable
{
    private readonly IReadOnlyList<Tensor> parameters;
    private readonly Tensor?[] velocity;

    public Sgd(IEnumerable<Tensor> parameters, double momentum, double weightDecay)
    {
        if (momentum is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be in [0, 1).");
        if (weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must be ≥ 0.");
        this.parameters = parameters.ToList();
        velocity = new Tensor?[this.parameters.Count];
        Momentum = momentum;
        WeightDecay = weightDecay;
    }

    public double Momentum { get; }
    public double WeightDecay { get; }

    public void ZeroGrad()
    {
        foreach (var p in parameters) p.grad?.zero_();
    }

    public void Step(double learningRate)
    {
        using var _ = no_grad();
        for (var i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            var grad = p.grad;
            if (grad is null) continue;
            // The gradient is reset before the next backward pass, so adding the decay in place is safe.
            if (WeightDecay != 0) grad.add_(p, alpha: WeightDecay);
            var step = grad;
            if (Momentum != 0)
            {
                if (velocity[i] is null) velocity[i] = grad.detach().clone().DetachFromDisposeScope(); // outlives the batch scope
                else velocity[i]!.mul_(Momentum).add_(grad);
                step = velocity[i]!;
            }
            p.add_(step, alpha: -learningRate);
        }
    }

    /// <summary>Momentum buffers by parameter index (null where no step happened yet), for checkpoints.</summary>
    public IReadOnlyList<Tensor?> Velocity => velocity;

    public void LoadVelocity(int index, Tensor value)
    {
        velocity[index]?.Dispose();
        using var detached = value.detach();
        velocity[index] = detached.clone().DetachFromDisposeScope();
    }

    public void Dispose()
    {
        for (var i = 0; i < velocity.Length; i++)
        {
            velocity[i]?.Dispose();
            velocity[i] = null;
        }
    }
}
