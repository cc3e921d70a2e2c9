using System.Runtime.InteropServices;

// Ctrl+C (and SIGTERM) ask the running command to stop: training cancels within a mini-batch, keeps its last
// per-epoch checkpoint and exits with code 130. A second Ctrl+C ends the process at once.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (cancellation.IsCancellationRequested) return;
    e.Cancel = true;
    Console.Error.WriteLine("Cancelling… (press Ctrl+C again to stop immediately)");
    cancellation.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    cancellation.Cancel();
});
return HyperSparse.Cli.Cli.Run(args, cancellation: cancellation.Token);
