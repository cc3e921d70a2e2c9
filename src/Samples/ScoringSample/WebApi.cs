using System.Globalization;
using HyperSparse.Imaging;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ScoringSample;

/// <summary>A minimal web API over <see cref="ImageScorer"/>, bound to 127.0.0.1 only.</summary>
/// <remarks>
/// A request for <c>POST /predict</c> goes through four bounds, cheapest first, so a hostile client costs little:
/// the body is at most <see cref="MaxUploadBytes"/> (Kestrel's limit, set explicitly) and is read with the request's
/// cancellation; the image header is checked from those bytes by the pixel gate (a bomb is a 413 before any file or
/// pixel buffer exists); the upload then waits for one of <see cref="Environment.ProcessorCount"/> decode slots, again
/// with the request's cancellation, so a client that has gone never starts a decode; only then is it written to a file
/// (ML.NET's LoadImages reads files) in a folder private to this process, deleted after scoring and the folder at stop.
/// </remarks>
internal static class WebApi
{
    /// <summary>The largest request body accepted: 32 MiB (a noisy 8-megapixel PNG is about 24 MB); larger is a 413.</summary>
    public const long MaxUploadBytes = 32L * 1024 * 1024;

    /// <summary>
    /// How many uploads are read into memory at once: 8 per processor (16 on 2 cores, at most 512 MiB of bodies); more
    /// requests wait, with their cancellation, before a byte of their body is buffered.
    /// </summary>
    public static int MaxUploadsInMemory => 8 * Environment.ProcessorCount;

    /// <summary>Serves <c>POST /predict</c> (body: image bytes) and <c>GET /classes</c> until Ctrl+C or SIGTERM.</summary>
    /// <returns>The exit code: 0 after a normal stop, 1 when the port cannot be bound.</returns>
    public static async Task<int> RunAsync(ImageScorer scorer, int port)
    {
        var stale = UploadFolder.RemoveStale();
        if (stale > 0) Console.Error.WriteLine($"note: removed {stale} upload folder(s) left by scoring-sample processes that no longer run");
        using var uploads = new UploadFolder();
        using var decodes = new SemaphoreSlim(Environment.ProcessorCount);
        using var reading = new SemaphoreSlim(MaxUploadsInMemory);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // A failed bind is reported below in one line; the host would also log it with a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel", LogLevel.None);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = MaxUploadBytes);
        await using var app = builder.Build();
        var address = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}");
        app.Urls.Add(address);
        app.MapGet("/classes", () => Results.Json(scorer.ClassNames));
        // A CancellationToken parameter of a route handler is the request's HttpContext.RequestAborted.
        app.MapPost("/predict", (HttpRequest request, CancellationToken aborted) => PredictWithinReadLimitAsync(request, scorer, reading, decodes, uploads, aborted));
        try
        {
            await app.StartAsync();
        }
        catch (IOException e) when (e.InnerException is AddressInUseException)
        {
            Console.Error.WriteLine($"error: port {port} on 127.0.0.1 is in use (another process listens there); stop it or choose another port with --port N.");
            return 1;
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"error: cannot listen on {address}: {(e.InnerException ?? e).Message}");
            return 1;
        }
        // Printed only now that the port is bound, so "serving on" is never a promise that then fails.
        Console.Error.WriteLine($"serving on {address} — POST /predict with image bytes (at most {MaxUploadBytes / 1048576} MiB, " +
            string.Create(CultureInfo.InvariantCulture, $"{scorer.MaxImagePixels:N0} pixels), GET /classes; Ctrl+C stops"));
        await app.WaitForShutdownAsync();
        return 0;
    }

    /// <summary>Waits (cancellably) for one of <see cref="MaxUploadsInMemory"/> read slots, then handles the request.</summary>
    internal static async Task<IResult> PredictWithinReadLimitAsync(HttpRequest request, ImageScorer scorer, SemaphoreSlim reading, SemaphoreSlim decodes,
        UploadFolder uploads, CancellationToken aborted)
    {
        try
        {
            await reading.WaitAsync(aborted);
        }
        catch (OperationCanceledException)
        {
            return Results.Empty;   // the client left while waiting: nothing was read
        }
        try
        {
            return await PredictAsync(request, scorer, decodes, uploads, aborted);
        }
        finally
        {
            reading.Release();
        }
    }

    /// <summary>
    /// One <c>POST /predict</c>: read (bounded, cancellable), gate the header, wait for a decode slot, score from a
    /// temporary file. Internal so that tests can call it with a request and a token of their own.
    /// </summary>
    internal static async Task<IResult> PredictAsync(HttpRequest request, ImageScorer scorer, SemaphoreSlim decodes, UploadFolder uploads, CancellationToken aborted)
    {
        byte[] body;
        try
        {
            if (request.ContentLength > MaxUploadBytes) return TooLarge(request.ContentLength.Value);
            // Grow with what arrives instead of trusting a claimed length (a client can claim 32 MiB and send nothing).
            using var buffer = new MemoryStream((int)Math.Min(request.ContentLength ?? 0, 1 << 20));
            await request.Body.CopyToAsync(buffer, aborted);
            body = buffer.ToArray();
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's word on the body: 413 for a chunked body past the limit, 400 for one that ended early ("Unexpected
            // end of request content": a client that closed mid-upload, which never reads this). Nothing was written.
            return e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? TooLarge(null)
                : Results.Json(new { error = $"the upload could not be read: {e.Message}" }, statusCode: e.StatusCode);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            return Results.Empty;   // the connection was reset or aborted: nobody to answer, nothing written
        }
        if (body.Length == 0) return Results.BadRequest(new { error = "the request body must be the image bytes; it was empty" });

        using (var bytes = new MemoryStream(body, writable: false))
            if (ImageGate.Admit(bytes, body.Length, scorer.MaxImagePixels, out var header) is { } refused)
            {
                // Too many pixels is a 413 (the image is too large); not an image at all is a 400.
                var tooLarge = (long)header.Width * header.Height > scorer.MaxImagePixels;
                return Results.Json(new { error = $"the image was refused before decoding: {refused}" },
                    statusCode: tooLarge ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest);
            }

        try
        {
            await decodes.WaitAsync(aborted);
        }
        catch (OperationCanceledException)
        {
            return Results.Empty;   // the client left while waiting: no file, no decode
        }
        string? file = null;
        try
        {
            file = uploads.Write(body);
            var p = scorer.Score(file);
            return Results.Json(new { label = p.Label, probability = p.Probability, top = p.Top.Select(t => new { label = t.Label, probability = t.Probability }) });
        }
        catch (InvalidDataException e)
        {
            return Results.BadRequest(new { error = $"the body is not an image this model can read: {(e.InnerException ?? e).Message}" });
        }
        finally
        {
            if (file is not null) File.Delete(file);
            decodes.Release();
        }
    }

    private static IResult TooLarge(long? length) => Results.Json(
        new { error = string.Create(CultureInfo.InvariantCulture, $"the upload is {(length is { } n ? $"{n:N0} bytes" : "larger than the limit")}: expected at most {MaxUploadBytes:N0} bytes") },
        statusCode: StatusCodes.Status413PayloadTooLarge);
}

/// <summary>
/// A temporary folder private to this process (owner-only), holding uploads only while they are scored. Deleted with
/// everything in it on <see cref="Dispose"/>, so a file that a request could not delete does not outlive the server.
/// </summary>
internal sealed class UploadFolder : IDisposable
{
    /// <summary>Creates <c>scoring-sample-&lt;pid&gt;-&lt;random&gt;</c> under the system temporary folder.</summary>
    public UploadFolder()
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"scoring-sample-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), name);
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(Path);
        else Directory.CreateDirectory(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>
    /// Deletes the upload folders of scoring-sample processes that no longer run (a server killed with SIGKILL cannot
    /// delete its own); returns how many. Folders of live processes are left alone.
    /// </summary>
    public static int RemoveStale()
    {
        var removed = 0;
        foreach (var folder in Directory.EnumerateDirectories(System.IO.Path.GetTempPath(), "scoring-sample-*"))
        {
            var parts = System.IO.Path.GetFileName(folder).Split('-');
            if (parts.Length != 4 || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            if (pid == Environment.ProcessId || IsRunning(pid)) continue;
            try
            {
                Directory.Delete(folder, recursive: true);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // another user's folder, or one being deleted right now: not ours to insist on
            }
        }
        return removed;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Writes the bytes to a new file in the folder and returns its path.</summary>
    public string Write(byte[] bytes)
    {
        var file = System.IO.Path.Combine(Path, Guid.NewGuid().ToString("N") + ".img");
        try
        {
            File.WriteAllBytes(file, bytes);
        }
        catch
        {
            File.Delete(file);   // a full disk must not leave half a file
            throw;
        }
        return file;
    }

    /// <summary>Deletes the folder and whatever is left in it.</summary>
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
