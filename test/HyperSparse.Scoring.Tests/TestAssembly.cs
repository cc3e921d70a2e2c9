namespace HyperSparse.Scoring.Tests;

/// <summary>The CLI-trained model is shared by every test class, so it is deleted once, after the last of them.</summary>
[TestClass]
public sealed class TestAssembly
{
    [AssemblyCleanup]
    public static void Cleanup() => CliModel.Cleanup();
}
