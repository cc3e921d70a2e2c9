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
            Architecture.ResNet18 => new ImageNetResNet("ResNet18", ImageNetResNet.ResNet18Blocks, input, classCount),
            Architecture.ResNet34 => new ImageNetResNet("ResNet34", ImageNetResNet.ResNet34Blocks, input, classCount),
            Architecture.ResNet18MLNet => new ImageNetResNet("ResNet18MLNet", ImageNetResNet.ResNet18MLNetBlocks, input, classCount),
            _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "Unknown architecture."),
        };
    }

    /// <summary>
    /// The prunable layers' names (state-dict weight names without ".weight"), in the order of
    /// <see cref="ImageClassifier.PrunableLayers"/>, without building the network: they depend on the architecture only, not
    /// on the image shape or the class count (a test checks them against every built network).
    /// </summary>
    public static IReadOnlyList<string> PrunableLayerNames(Architecture architecture) => architecture switch
    {
        Architecture.LeNet5 => LeNet5.LayerNames,
        Architecture.Mlp => Mlp.LayerNames,
        Architecture.ResNet20 => ResNet.LayerNames(20),
        Architecture.ResNet32 => ResNet.LayerNames(32),
        Architecture.Vgg19 => Vgg19.LayerNames,
        Architecture.ResNet18 => ImageNetResNet.LayerNames(ImageNetResNet.ResNet18Blocks),
        Architecture.ResNet34 => ImageNetResNet.LayerNames(ImageNetResNet.ResNet34Blocks),
        Architecture.ResNet18MLNet => ImageNetResNet.LayerNames(ImageNetResNet.ResNet18MLNetBlocks),
        _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "Unknown architecture."),
    };
}
