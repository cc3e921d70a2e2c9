using Microsoft.ML.HyperSparse.Engine.Models;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

[TestClass]
public sealed class ModelFactoryTests
{
    [ClassInitialize]
    public static void Initialize(TestContext context) => EngineTestTensors.Load();

    [ClassCleanup]
    public static void Cleanup() => EngineTestTensors.Release();

    [TestMethod]
    public void ModelFactory_Create_BuildsEachArchitectureWithItsDepthAndWidth()
    {
        var shape = new ImageShape(3, 32, 32);
        using (var r20 = (ResNet)ModelFactory.Create(Architecture.ResNet20, shape, 10)) { Assert.AreEqual((20, 16), (r20.Depth, r20.Width)); }
        using (var r32 = (ResNet)ModelFactory.Create(Architecture.ResNet32, shape, 10)) { Assert.AreEqual((32, 32), (r32.Depth, r32.Width)); }
        using (var lenet = ModelFactory.Create(Architecture.LeNet5, shape, 4)) { Assert.IsInstanceOfType<LeNet5>(lenet); Assert.AreEqual(4, lenet.ClassCount); }
        using (var mlp = ModelFactory.Create(Architecture.Mlp, shape, 10)) { Assert.IsInstanceOfType<Mlp>(mlp); Assert.AreEqual(shape, mlp.Input); }
    }

    [TestMethod]
    public void ModelFactory_Create_RejectsOneClassAndUnknownArchitecture()
    {
        foreach (var architecture in Enum.GetValues<Architecture>().Where(a => a != Architecture.Vgg19))
            Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(
                () => ModelFactory.Create(architecture, new ImageShape(3, 32, 32), 1), architecture.ToString()).ParamName);
        Assert.AreEqual("architecture", Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => ModelFactory.Create((Architecture)99, new ImageShape(3, 32, 32), 10)).ParamName);
    }
}
