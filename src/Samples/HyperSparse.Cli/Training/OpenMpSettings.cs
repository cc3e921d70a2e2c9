using System.Runtime.InteropServices;

namespace HyperSparse.Cli.Training;

/// <summary>
/// libtorch's OpenMP threads spin while waiting at every parallel region by default. On a busy machine (more runnable
/// threads than cores) that spinning starves the thread doing work: measured here with 2 threads on 2 shared cores,
/// a LeNet-5 epoch over 10k images took 26 s with OMP_WAIT_POLICY=ACTIVE and 1.7 s with PASSIVE. The setting must be in
/// the process environment before libtorch (libgomp) loads, and .NET's Environment.SetEnvironmentVariable does not
/// change the native environment on Linux, so it is set through libc. A value the user set is left alone.
/// </summary>
internal static partial class OpenMpSettings
{
    public const string Variable = "OMP_WAIT_POLICY";

    public static void PreferPassiveWaiting()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(Variable) is not null) return;
        try
        {
            _ = SetEnv(Variable, "PASSIVE", 0);
            Environment.SetEnvironmentVariable(Variable, "PASSIVE");
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: keep the default.
        }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
