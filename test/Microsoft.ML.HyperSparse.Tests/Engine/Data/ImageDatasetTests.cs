using Microsoft.ML.HyperSparse.Engine.Data;

namespace Microsoft.ML.HyperSparse.Tests.Engine.Data;

[TestClass]
public sealed class ImageDatasetTests
{
    internal static ImageDataset Sequential(int n, int c, int h, int w, int classes)
    {
        var pixels = new float[n * c * h * w];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = i;
        return new ImageDataset(pixels, Enumerable.Range(0, n).Select(i => i % classes).ToArray(), c, h, w, classes);
    }

    [TestMethod]
    public void ImageDataset_Constructor_PixelCountMismatchNamesArgument()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => new ImageDataset(new float[11], [0, 1], 1, 2, 3, 2));
        Assert.AreEqual("pixels", ex.ParamName);
        StringAssert.Contains(ex.Message, "12");
        StringAssert.Contains(ex.Message, "11");
    }

    [TestMethod]
    public void ImageDataset_Constructor_LabelOutOfRangeNamesArgument()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => new ImageDataset(new float[12], [0, 2], 1, 2, 3, 2));
        Assert.AreEqual("labels", ex.ParamName);
        StringAssert.Contains(ex.Message, "0..1");
        StringAssert.Contains(ex.Message, "found 2");
        Assert.ThrowsExactly<ArgumentException>(() => new ImageDataset(new float[12], [0, -1], 1, 2, 3, 2));
    }

    [TestMethod]
    [DataRow(0, 2, 3, 2, "channels")]
    [DataRow(1, 0, 3, 2, "height")]
    [DataRow(1, 2, -1, 2, "width")]
    [DataRow(1, 2, 3, 0, "classCount")]
    public void ImageDataset_Constructor_NonPositiveDimensionNamesArgument(int c, int h, int w, int classes, string name)
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => new ImageDataset([], [], c, h, w, classes));
        Assert.AreEqual(name, ex.ParamName);
    }

    [TestMethod]
    public void ImageDataset_Slice_CopiesRange()
    {
        var data = Sequential(5, 2, 2, 2, 3);
        var slice = data.Slice(1, 3);
        Assert.AreEqual(3, slice.Count);
        Assert.AreEqual(8f, slice.Pixels[0]);
        Assert.AreEqual(31f, slice.Pixels[^1]);
        CollectionAssert.AreEqual(new[] { 1, 2, 0 }, slice.Labels);
        slice.Pixels[0] = -1;
        Assert.AreEqual(8f, data.Pixels[8], "slice is a copy");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => data.Slice(3, 3));
    }

    [TestMethod]
    public void ImageDataset_Subset_CopiesInGivenOrder()
    {
        var data = Sequential(5, 1, 1, 2, 5);
        var subset = data.Subset([4, 0, 4]);
        CollectionAssert.AreEqual(new float[] { 8, 9, 0, 1, 8, 9 }, subset.Pixels);
        CollectionAssert.AreEqual(new[] { 4, 0, 4 }, subset.Labels);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => data.Subset([5]));
        Assert.AreEqual("indices", ex.ParamName);
    }

    [TestMethod]
    public void ImageDataset_ClassCounts_CountsEveryClass()
    {
        var data = Sequential(7, 1, 1, 1, 4);
        CollectionAssert.AreEqual(new[] { 2, 2, 2, 1 }, data.ClassCounts());
    }
}
