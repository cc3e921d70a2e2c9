using Microsoft.ML.HyperSparse.Engine.Pretrained;

namespace Microsoft.ML.HyperSparse;

/// <summary>
/// Weights to start training from (<see cref="HyperSparseClassificationTrainer.Options.Pretrained"/>) instead of a random
/// initialisation: ML.NET's ImageNet ResNet-18, or your own torchvision-layout ResNet-18/34 as an ONNX file or a PyTorch
/// state_dict. The network's architecture, its input preprocessing (channel order, scale, mean, std) and its backbone come
/// from the source; the classifier is replaced for your classes unless <see cref="KeepClassifier"/> is set.
/// </summary>
/// <remarks>
/// <para>Training then runs the transfer schedule: a head stage (the backbone frozen, only the new classifier trains) in place
/// of the dense warm-up, then Adaptive Regularized Training over every prunable weight with the paper's stop rule, the prune and
/// the masked fine-tune, with batch norm keeping the source's statistics and the smaller learning rate a pretrained network
/// needs (<see cref="HyperSparseDefaults.TransferLearningRate"/>). Images need at least 32×32 pixels; grayscale images are
/// replicated to the three channels the network reads, in training and in the exported ONNX model.</para>
/// <para>The exported model takes the same pixels as a model trained from scratch (ExtractPixels' 0–255 values, or 0–1 with
/// <see cref="HyperSparseClassificationTrainer.Options.PixelScale"/>), with the source's preprocessing baked in.</para>
/// </remarks>
public sealed class HyperSparsePretrained
{
    private HyperSparsePretrained(string? path, bool imageNet, bool keepClassifier)
    {
        Path = path;
        IsMLNetResNet18 = imageNet;
        KeepClassifier = keepClassifier;
    }

    /// <summary>
    /// ML.NET's ImageNet-trained ResNet-18 (blocks [2, 2, 2, 3], <see cref="HyperSparseArchitecture.ResNet18MLNet"/>), from the
    /// NuGet package <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c>: reference that package from the application (its build
    /// copies <c>DnnImageModels/ResNet18Onnx/ResNet18.onnx</c> into the output folder), or pass the file's path. Found in the
    /// application's output folder, else in the NuGet global packages folder; <c>Fit</c> throws
    /// <see cref="FileNotFoundException"/> naming the package and every place searched when it is not there.
    /// </summary>
    /// <param name="path">ResNet18.onnx from that package; null = find it.</param>
    public static HyperSparsePretrained ImageNetResNet18(string? path = null) => new(path, imageNet: true, keepClassifier: false);

    /// <summary>
    /// A torchvision-layout ResNet-18 or ResNet-34 (basic blocks): an ONNX file (<c>torch.onnx.export</c> of a torchvision
    /// ResNet, or a Dense export of a HyperSparse ImageNet ResNet) or a PyTorch <c>torch.save(model.state_dict(), path)</c> file,
    /// told apart by content. torchvision files are taken to expect torchvision's ImageNet preprocessing (RGB in 0–1, mean
    /// (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)); a HyperSparse export carries its own. <c>Fit</c> throws
    /// <see cref="InvalidDataException"/> naming the file and what did not fit for any other architecture or a tensor of
    /// another shape.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="keepClassifier">Keep the file's classifier (its classes must be the data's, in key order); default false:
    /// a new classifier is trained for the data's classes.</param>
    public static HyperSparsePretrained FromFile(string path, bool keepClassifier = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return new(path, imageNet: false, keepClassifier);
    }

    /// <summary>The file, or null for ML.NET's ResNet-18 found in the application's output or the NuGet cache.</summary>
    public string? Path { get; }

    /// <summary>True for <see cref="ImageNetResNet18"/>.</summary>
    public bool IsMLNetResNet18 { get; }

    /// <summary>Keep the source's classifier instead of training a new one.</summary>
    public bool KeepClassifier { get; }

    /// <summary>"imagenet" or the file's full path: what the checkpoint fingerprint compares on resume.</summary>
    internal string Describe() => IsMLNetResNet18 && Path is null ? "imagenet" : System.IO.Path.GetFullPath(Path!);

    /// <summary>Reads the weights (tens of megabytes: once per <c>Fit</c>).</summary>
    internal PretrainedWeights Read() => IsMLNetResNet18 ? MLNetResNet18.ReadWeights(Path) : PretrainedFiles.Read(Path!);

    /// <inheritdoc/>
    public override string ToString() => IsMLNetResNet18 ? $"ML.NET ImageNet ResNet-18{(Path is null ? "" : $" ({Path})")}" : Path!;
}

/// <summary>What <see cref="HyperSparseClassificationTrainer.Options.Pretrained"/> loaded (<see cref="HyperSparseTrainingReport.Pretrained"/>).</summary>
/// <param name="Source">The file the weights were read from (full path).</param>
/// <param name="Format">What kind of file it was.</param>
/// <param name="Preprocessing">The input the weights expect, as used in training and baked into the exported ONNX model.</param>
/// <param name="LoadedTensors">Parameters and batch-norm statistics copied from the file.</param>
/// <param name="LoadedWeights">Numbers in them.</param>
/// <param name="NewLayers">Layers trained from a fresh initialisation (the classifier, unless kept).</param>
/// <param name="ReversedChannels">The file's network reads BGR planes; its first convolution was reordered to read RGB.</param>
/// <param name="ReplicatedGrayscale">The images have one channel, replicated to the network's three.</param>
public sealed record HyperSparsePretrainedReport(string Source, string Format, string Preprocessing, int LoadedTensors, long LoadedWeights,
    IReadOnlyList<string> NewLayers, bool ReversedChannels, bool ReplicatedGrayscale);
