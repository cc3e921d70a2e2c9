namespace Microsoft.ML.HyperSparse.Engine.Data;

/// <summary>Finds the Fashion-MNIST IDX files (Debian package dataset-fashion-mnist or a folder named by an environment variable).</summary>
internal static class FashionMnist
{
    /// <summary>Environment variable that, when set, replaces the default folder.</summary>
    internal const string DirectoryVariable = "HYPERSPARSE_FASHION_MNIST_DIR";

    /// <summary>Where the Debian package installs the files.</summary>
    internal const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    internal const string TrainImages = "train-images-idx3-ubyte.gz";
    internal const string TrainLabels = "train-labels-idx1-ubyte.gz";
    internal const string TestImages = "t10k-images-idx3-ubyte.gz";
    internal const string TestLabels = "t10k-labels-idx1-ubyte.gz";

    /// <summary>Fashion-MNIST has ten classes.</summary>
    internal const int ClassCount = 10;

    /// <summary>The folder holding the files, or null when it does not exist.</summary>
    internal static string? TryLocate()
    {
        var overridden = Environment.GetEnvironmentVariable(DirectoryVariable);
        var directory = string.IsNullOrWhiteSpace(overridden) ? DefaultDirectory : overridden;
        return Directory.Exists(directory) ? directory : null;
    }

    /// <summary>Reads the training (60,000) or test (10,000) split from <paramref name="directory"/>.</summary>
    internal static ImageDataset Read(string directory, bool train, int? limit = null) =>
        IdxReader.ReadImageClassification(
            Path.Combine(directory, train ? TrainImages : TestImages),
            Path.Combine(directory, train ? TrainLabels : TestLabels),
            limit,
            ClassCount);
}
