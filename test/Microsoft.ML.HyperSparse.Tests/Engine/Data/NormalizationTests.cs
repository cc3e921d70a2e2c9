using Microsoft.ML.HyperSparse.Engine.Data;

namespace Microsoft.ML.HyperSparse.Tests.Engine.Data;

[TestClass]
public sealed class NormalizationTests
{
    [TestMethod]
    public void Normalization_FromData_PerChannelMeanAndPopulationStd()
    {
        // Two images, two channels of 2 pixels: channel 0 values 0, 2, 4, 6; channel 1 constant 10.
        float[] pixels = [0, 2, 10, 10, 4, 6, 10, 10];
        var data = new ImageDataset(pixels, [0, 1], 2, 1, 2, 2);
        var norm = Normalization.FromData(data, 0.5f);
        Assert.AreEqual(0.5f, norm.PixelScale);
        Assert.AreEqual(1.5f, norm.Mean[0], 1e-6f);
        Assert.AreEqual(MathF.Sqrt(1.25f), norm.Std[0], 1e-6f); // scaled values 0, 1, 2, 3
        Assert.AreEqual(5f, norm.Mean[1], 1e-6f);
        Assert.AreEqual(1f, norm.Std[1], "a constant channel gets std 1");
    }

    [TestMethod]
    public void Normalization_Apply_ScalesThenStandardises()
    {
        var norm = new Normalization(1f / 255, [0.5f], [0.25f]);
        Assert.AreEqual((255f / 255 - 0.5f) / 0.25f, norm.Apply(255, 0), 1e-6f);
        Assert.AreEqual(-2f, norm.Apply(0, 0), 1e-6f);
    }

    [TestMethod]
    public void Normalization_Constructor_ValidatesLengthsAndStd()
    {
        Assert.AreEqual("std", Assert.ThrowsExactly<ArgumentException>(() => new Normalization(1, [0, 0], [1])).ParamName);
        Assert.AreEqual("std", Assert.ThrowsExactly<ArgumentException>(() => new Normalization(1, [0], [0])).ParamName);
        Assert.AreEqual("std", Assert.ThrowsExactly<ArgumentException>(() => new Normalization(1, [0], [-1])).ParamName);
        Assert.AreEqual("mean", Assert.ThrowsExactly<ArgumentException>(() => new Normalization(1, [], [])).ParamName);
        Assert.AreEqual("pixelScale", Assert.ThrowsExactly<ArgumentException>(() => new Normalization(float.NaN, [0], [1])).ParamName);
    }

    [TestMethod]
    public void Normalization_FromData_RealFashionMnistMatchesKnownStatistics()
    {
        var directory = FashionMnist.TryLocate();
        if (directory is null) Assert.Inconclusive("Fashion-MNIST directory not found");
        var norm = Normalization.FromData(FashionMnist.Read(directory, train: true), 1f / 255);
        // The widely used Fashion-MNIST statistics: mean 0.2860, std 0.3530.
        Assert.AreEqual(0.2860f, norm.Mean[0], 5e-4f);
        Assert.AreEqual(0.3530f, norm.Std[0], 5e-4f);
    }

    [TestMethod]
    public void Augmentation_Constructor_RejectsNegativePadding()
    {
        Assert.AreEqual("cropPadding", Assert.ThrowsExactly<ArgumentException>(() => new Augmentation(-1, false)).ParamName);
        Assert.IsTrue(Augmentation.None.IsNone);
        Assert.AreEqual(new Augmentation(4, true), new Augmentation(4, true));
    }
}
