using System.Globalization;
using System.Reflection;

namespace Microsoft.ML.HyperSparse;

/// <summary>
/// The ML.NET versions this library's reflection was tested with, and the check that refuses newer ones.
/// </summary>
/// <remarks>
/// The scoring chain (<see cref="ScoringChain"/>) calls non-public constructors of ML.NET's multiclass prediction types, and
/// <see cref="HyperSparseClassificationTrainer.EnvironmentOf"/> reads a catalog's non-public environment. Those members can
/// change in any ML.NET release without notice; a newer ML.NET might still have them but build a different chain. The package
/// depends on Microsoft.ML ≥ <see cref="TestedUpTo"/> (NuGet enforces the lower end); this check is the upper end, so an
/// untested ML.NET fails before training with a message instead of misbehaving later.
/// ML.NET's assemblies all carry AssemblyVersion 1.0.0.0, so the release is read from the informational version
/// ("6.0.0+commit") and, failing that, the file version ("6.0.26.55901").
/// </remarks>
internal static class MLNetVersion
{
    /// <summary>The newest ML.NET major.minor the reflection was tested with (its patch releases are accepted).</summary>
    internal static readonly Version TestedUpTo = new(6, 0);

    private static readonly Lazy<string?> LoadedError = new(() => Check(Loaded()));

    /// <summary>
    /// Null when <paramref name="found"/> is at most <see cref="TestedUpTo"/> (major.minor; the patch is ignored), else the
    /// error message, naming the found and the supported version and what to do.
    /// </summary>
    internal static string? Check(Version? found)
    {
        if (found is null) return null; // unreadable version: the constructor checks in ScoringChain still guard
        var majorMinor = new Version(found.Major, found.Minor);
        if (majorMinor <= TestedUpTo) return null;
        return string.Create(CultureInfo.InvariantCulture,
            $"HyperSparse.MLNet was tested with Microsoft.ML {TestedUpTo.Major}.{TestedUpTo.Minor}.x and reaches into ML.NET " +
            $"members that are not public API; the loaded Microsoft.ML is {found.Major}.{found.Minor}.{Math.Max(found.Build, 0)}, " +
            $"which is newer than that. Reference Microsoft.ML {TestedUpTo.Major}.{TestedUpTo.Minor}.x (with " +
            $"Microsoft.ML.OnnxTransformer and Microsoft.ML.ImageAnalytics of the same version), or upgrade HyperSparse.MLNet " +
            $"to a release tested with Microsoft.ML {found.Major}.{found.Minor}.");
    }

    /// <summary>Throws <see cref="NotSupportedException"/> when the loaded Microsoft.ML is newer than <see cref="TestedUpTo"/>.</summary>
    internal static void EnsureSupported()
    {
        if (LoadedError.Value is { } message) throw new NotSupportedException(message);
    }

    /// <summary>The release of the Microsoft.ML assemblies loaded in this process (null when it cannot be read).</summary>
    internal static Version? Loaded() => Of(typeof(MLContext).Assembly);

    /// <summary>An assembly's release: its informational version without the "+commit" or "-preview" suffix, else its file version.</summary>
    internal static Version? Of(Assembly assembly)
    {
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (Parse(informational) is { } version) return version;
        return Parse(assembly.GetCustomAttribute<AssemblyFileVersionAttribute>()?.Version);
    }

    /// <summary>"6.0.0+6eff5cc" → 6.0.0; "7.0.0-preview.1" → 7.0.0; null or garbage → null.</summary>
    internal static Version? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var end = text.IndexOfAny(new[] { '+', '-', ' ' });
        return Version.TryParse(end < 0 ? text : text[..end], out var version) ? version : null;
    }
}
