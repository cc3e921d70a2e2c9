using Microsoft.ML.HyperSparse.Engine.Native;

namespace Microsoft.ML.HyperSparse.Engine.Models;

/// <summary>Creates engine networks by architecture for any input shape and class count.</summary>
internal static class ModelFactory
{
    public static ImageClassifier Create(Architecture architecture, ImageShape input, int classCount)
    {
        TorchRuntime.EnsureLoaded();
        return architecture switch
        {
            Architecture.LeNet5 => new LeNet5(input, classCount),
            Architecture.Mlp => new Mlp(input, classCount),
            Architecture.ResNet20 => new ResNet(20, 16, input, classCount),
            Architecture.ResNet32 => new ResNet(32, 32, input, classCount),
            Architecture.Vgg19 => new Vgg19(input, classCount),
            _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "Unknown architecture."),
        };
    }
}
