using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace HyperSparse.Scoring.Tests;

/// <summary>
/// Runs the scoring sample's Program as a child process (<c>dotnet ScoringSample.dll args</c>, built next to the solution),
/// so exit codes, console lines and the web server are tested as a user meets them.
/// </summary>
internal sealed class SampleProcess : IDisposable
{
    // A bound, not a timing assertion: a hung child fails the test instead of hanging the run.
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    private readonly Process process;
    private readonly StringBuilder stdout = new(), stderr = new();
    private readonly TaskCompletionSource serving = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SampleProcess(IReadOnlyDictionary<string, string>? environment, string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Dll());
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) lock (stdout) stdout.AppendLine(line); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not { } line) return;
            lock (stderr) stderr.AppendLine(line);
            if (line.Contains("serving on", StringComparison.Ordinal)) serving.TrySetResult();
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Stdout { get { lock (stdout) return stdout.ToString(); } }
    public string Stderr { get { lock (stderr) return stderr.ToString(); } }
    public int Id => process.Id;

    /// <summary>Runs to the end; the exit code and both outputs.</summary>
    public static (int Exit, string Stdout, string Stderr) Run(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var p = new SampleProcess(environment, args);
        var exit = p.WaitForExit();
        return (exit, p.Stdout, p.Stderr);
    }

    /// <summary>Starts <c>--serve</c> on <paramref name="port"/> and returns once it says "serving on".</summary>
    public static SampleProcess Serve(int port, IReadOnlyDictionary<string, string>? environment = null, params string[] more)
    {
        var p = new SampleProcess(environment, [CliModel.ModelZip, "--serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. more]);
        var ready = Task.WhenAny(p.serving.Task, p.process.WaitForExitAsync()).Wait(Bound);
        if (!ready || !p.serving.Task.IsCompleted)
        {
            p.Dispose();
            throw new AssertFailedException($"the sample did not start serving on port {port}:\n{p.Stderr}");
        }
        return p;
    }

    /// <summary>Asks for a graceful stop (SIGTERM, like a service manager) and waits for the exit code.</summary>
    public int Stop()
    {
        if (!process.HasExited) _ = kill(process.Id, 15);
        return WaitForExit();
    }

    /// <summary>Kills the process at once (SIGKILL: no finally block or shutdown code runs) and waits for it.</summary>
    public void KillNow()
    {
        process.Kill();
        process.WaitForExit();
    }

    private int WaitForExit()
    {
        if (!process.WaitForExit(Bound))
        {
            process.Kill(entireProcessTree: true);
            throw new AssertFailedException($"the sample did not exit:\n{Stderr}");
        }
        process.WaitForExit();   // drains the redirected output
        return process.ExitCode;
    }

    public void Dispose()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.Dispose();
    }

    /// <summary>A port nobody listens on right now (the OS picks it; it is released again at once).</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string Dll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "HyperSparse.MLNet.sln"))) dir = dir.Parent;
        if (dir is null) throw new AssertFailedException($"HyperSparse.MLNet.sln not found above '{AppContext.BaseDirectory}'.");
        var configuration = typeof(SampleProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var dll = Path.Combine(dir.FullName, "src", "Samples", "ScoringSample", "bin", configuration, "net10.0", "ScoringSample.dll");
        return File.Exists(dll) ? dll : throw new AssertFailedException($"The scoring sample is not built: '{dll}' is missing.");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
