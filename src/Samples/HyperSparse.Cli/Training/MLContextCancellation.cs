using System.Reflection;
using Microsoft.ML;

namespace HyperSparse.Cli.Training;

/// <summary>
/// Calls <c>MLContext.CancelExecution()</c>. In ML.NET 5.0.1 that method exists but is not public (it implements the
/// internal interface <c>ICancelable</c>), and it is the signal the HyperSparse trainer watches (it stops within a
/// mini-batch and keeps its last per-epoch checkpoint). There is no public equivalent, so this one call goes through
/// reflection; everything else in this tool is public API.
/// </summary>
internal static class MLContextCancellation
{
    private static readonly MethodInfo? CancelExecution = FindCancelExecution();

    public static bool IsAvailable => CancelExecution is not null;

    public static bool TryCancel(MLContext ml)
    {
        if (CancelExecution is null) return false;
        CancelExecution.Invoke(ml, null);
        return true;
    }

    private static MethodInfo? FindCancelExecution()
    {
        var iface = typeof(MLContext).GetInterfaces().FirstOrDefault(i => i.Name == "ICancelable");
        return iface?.GetMethod("CancelExecution", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, Type.EmptyTypes)
            ?? typeof(MLContext).GetMethods(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
                .FirstOrDefault(m => m.Name.EndsWith("CancelExecution", StringComparison.Ordinal) && m.GetParameters().Length == 0);
    }
}
