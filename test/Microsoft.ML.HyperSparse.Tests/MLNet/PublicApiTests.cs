using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>
/// The library's public API, one line per member, against the checked-in <c>PublicApi.txt</c> beside this file: a change
/// to it — a renamed property, a new parameter, a record turned into a class — fails here until the file is updated on
/// purpose (run the tests with <c>HYPERSPARSE_UPDATE_PUBLIC_API=1</c>, then review the diff of PublicApi.txt).
/// </summary>
[TestClass]
public sealed class PublicApiTests
{
    [TestMethod]
    public void PublicApi_MatchesTheCheckedInSnapshot()
    {
        var actual = Describe(typeof(HyperSparseClassificationTrainer).Assembly);
        var path = Path.Combine(Path.GetDirectoryName(SourceFile())!, "PublicApi.txt");
        if (Environment.GetEnvironmentVariable("HYPERSPARSE_UPDATE_PUBLIC_API") == "1")
        {
            File.WriteAllText(path, actual);
            Assert.Inconclusive($"Wrote {path}; review its diff and run the tests again without HYPERSPARSE_UPDATE_PUBLIC_API.");
        }
        Assert.IsTrue(File.Exists(path), $"No snapshot at {path}: run the tests once with HYPERSPARSE_UPDATE_PUBLIC_API=1.");
        var expected = File.ReadAllText(path).ReplaceLineEndings("\n");
        if (expected == actual) return;
        var before = expected.Split('\n').ToHashSet(StringComparer.Ordinal);
        var after = actual.Split('\n').ToHashSet(StringComparer.Ordinal);
        Assert.Fail("The public API changed. If that is deliberate, run the tests with HYPERSPARSE_UPDATE_PUBLIC_API=1 and commit PublicApi.txt.\n" +
                    "removed:\n  " + string.Join("\n  ", before.Except(after)) + "\nadded:\n  " + string.Join("\n  ", after.Except(before)));
    }

    private static string SourceFile([CallerFilePath] string path = "") => path;

    /// <summary>Every exported type and its public and protected members, sorted, one line each.</summary>
    internal static string Describe(Assembly assembly)
    {
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes())
        {
            var name = Name(type);
            var kind = type.IsEnum ? "enum" : type.IsInterface ? "interface" : type.IsValueType ? "struct"
                : typeof(Delegate).IsAssignableFrom(type) ? "delegate" : type.IsAbstract && type.IsSealed ? "static class"
                : type.GetMethod("<Clone>$") is not null ? "record" : "class";
            var bases = new List<string>();
            if (type.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum)) bases.Add(Name(b));
            bases.AddRange(type.GetInterfaces().Where(i => i.IsPublic || i.IsNestedPublic).Select(Name).Order(StringComparer.Ordinal));
            lines.Add($"{kind} {name}{(bases.Count > 0 ? " : " + string.Join(", ", bases) : "")}");
            if (type.IsEnum)
            {
                foreach (var value in Enum.GetNames(type)) lines.Add($"{name}.{value} = {Convert.ToInt64(Enum.Parse(type, value), System.Globalization.CultureInfo.InvariantCulture)}");
                continue;
            }
            const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var member in type.GetMembers(Declared))
            {
                var line = member switch
                {
                    ConstructorInfo c when Visible(c) => $"{name}..ctor({Parameters(c)})",
                    MethodInfo m when Visible(m) && !m.IsSpecialName && !m.Name.StartsWith('<') => $"{name}.{(m.IsStatic ? "static " : "")}{Name(m.ReturnType)} {m.Name}({Parameters(m)})",
                    PropertyInfo p when Visible(p.GetMethod) || Visible(p.SetMethod) => $"{name}.{(p.GetMethod?.IsStatic == true ? "static " : "")}{Name(p.PropertyType)} {p.Name} {{ {Accessors(p)} }}",
                    FieldInfo f when f.IsPublic || f.IsFamily => $"{name}.{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{Name(f.FieldType)} {f.Name}{(f.IsLiteral ? " = " + Format(f.GetRawConstantValue()) : "")}",
                    EventInfo e when Visible(e.AddMethod) => $"{name}.event {Name(e.EventHandlerType!)} {e.Name}",
                    _ => null,
                };
                if (line is not null) lines.Add(line);
            }
        }
        return string.Join("\n", lines.Order(StringComparer.Ordinal)) + "\n";
    }

    private static bool Visible(MethodBase? m) => m is not null && (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly);

    private static string Accessors(PropertyInfo p)
    {
        var parts = new List<string>();
        if (Visible(p.GetMethod)) parts.Add("get;");
        if (Visible(p.SetMethod))
            parts.Add(p.SetMethod!.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit)) ? "init;" : "set;");
        return string.Join(' ', parts);
    }

    private static string Parameters(MethodBase m) => string.Join(", ", m.GetParameters().Select(p =>
        $"{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + Format(p.DefaultValue) : "")}"));

    private static string Format(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string Name(Type type)
    {
        if (type.IsByRef) return Name(type.GetElementType()!) + "&";
        if (type.IsArray) return Name(type.GetElementType()!) + "[]";
        if (Nullable.GetUnderlyingType(type) is { } inner) return Name(inner) + "?";
        var name = type.IsNested ? Name(type.DeclaringType!) + "." + type.Name : type.Namespace + "." + type.Name;
        if (!type.IsGenericType) return name;
        return name[..name.IndexOf('`')] + "<" + string.Join(", ", type.GetGenericArguments().Select(Name)) + ">";
    }
}
