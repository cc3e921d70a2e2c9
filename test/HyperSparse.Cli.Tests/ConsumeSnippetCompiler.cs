using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace HyperSparse.Cli.Tests;

/// <summary>Compiles a generated Consume.cs on its own (no implicit usings, nullable on) against the test's references.</summary>
internal static class ConsumeSnippetCompiler
{
    public static Assembly Compile(string source)
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(p => p.EndsWith(".dll", StringComparison.Ordinal))
            .Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create(
            "Consume" + Guid.NewGuid().ToString("N")[..8],
            new[] { CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest)) },
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        var problems = result.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.IsTrue(result.Success && problems.Count == 0, "Consume.cs must compile without warnings:\n" + string.Join("\n", problems));
        return Assembly.Load(image.ToArray());
    }
}
