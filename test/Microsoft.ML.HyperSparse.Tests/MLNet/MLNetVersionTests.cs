using Microsoft.ML;
using Microsoft.ML.HyperSparse;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>The upper bound on ML.NET: the reflection into ML.NET is refused on a release newer than the tested one.</summary>
[TestClass]
public sealed class MLNetVersionTests
{
    [TestMethod]
    public void TestedUpTo_IsMLNet60() => Assert.AreEqual(new Version(6, 0), MLNetVersion.TestedUpTo);

    [TestMethod]
    [DataRow("6.0")]
    [DataRow("6.0.0")]
    [DataRow("6.0.9")]     // patch releases of the tested minor are accepted
    [DataRow("5.0.1")]     // older ones are NuGet's concern (the package depends on ≥ 6.0.0), not refused here
    public void Check_TestedOrOlder_Accepted(string version) => Assert.IsNull(MLNetVersion.Check(Version.Parse(version)));

    [TestMethod]
    [DataRow("7.0", "7.0.0")]
    [DataRow("6.1.0", "6.1.0")]
    [DataRow("10.2.3", "10.2.3")]
    public void Check_Newer_NamesFoundAndSupportedVersionAndWhatToDo(string version, string shown)
    {
        var message = MLNetVersion.Check(Version.Parse(version));
        Assert.IsNotNull(message);
        StringAssert.Contains(message, $"the loaded Microsoft.ML is {shown}");
        StringAssert.Contains(message, "tested with Microsoft.ML 6.0.x");
        StringAssert.Contains(message, "Reference Microsoft.ML 6.0.x");
        StringAssert.Contains(message, "upgrade HyperSparse.MLNet");
    }

    [TestMethod]
    public void Check_UnreadableVersion_LeftToTheConstructorCheck() => Assert.IsNull(MLNetVersion.Check(null));

    [TestMethod]
    [DataRow("6.0.0+6eff5ccedce81728c927bfa0155284aadd38531d", "6.0.0")]
    [DataRow("7.0.0-preview.1.25125.4", "7.0.0")]
    [DataRow("6.0.26.55901", "6.0.26.55901")]
    public void Parse_InformationalOrFileVersion(string text, string expected) =>
        Assert.AreEqual(Version.Parse(expected), MLNetVersion.Parse(text));

    [TestMethod]
    [DataRow(null)]
    [DataRow("")]
    [DataRow("dev")]
    public void Parse_Garbage_Null(string? text) => Assert.IsNull(MLNetVersion.Parse(text));

    [TestMethod]
    public void Loaded_IsTheReferencedMLNet_NotItsAssemblyVersion()
    {
        // ML.NET's AssemblyVersion is 1.0.0.0 in every release; the check must see the package's 6.0.
        var loaded = MLNetVersion.Loaded();
        Assert.IsNotNull(loaded);
        Assert.AreEqual(new Version(6, 0), new Version(loaded.Major, loaded.Minor));
        MLNetVersion.EnsureSupported();
        Assert.IsNotNull(HyperSparseClassificationTrainer.EnvironmentOf(new MLContext().MulticlassClassification.Trainers));
    }
}
