using HyperSparse.TestSupport;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using ScoringSample;

namespace HyperSparse.Scoring.Tests;

/// <summary>
/// The scoring sample's web API, run as a child process on 127.0.0.1: its --port option, a port already in use, refused
/// bombs, the upload limit and an upload cut off halfway. Every request loop is bounded; nothing asserts a duration.
/// </summary>
[TestClass]
public sealed class WebApiTests
{
    [TestMethod]
    [DataRow(null, DisplayName = "missing")]
    [DataRow("0", DisplayName = "zero")]
    [DataRow("65536", DisplayName = "above 65535")]
    [DataRow("-1", DisplayName = "negative")]
    [DataRow("80x", DisplayName = "not a number")]
    public void ScoringSample_PortMissingOutOfRangeOrNotANumber_ExitTwoNamingTheOptionTheRangeAndTheText(string? value)
    {
        string[] args = value is null ? [CliModel.ModelZip, "--serve", "--port"] : [CliModel.ModelZip, "--serve", "--port", value];
        var (exit, _, stderr) = SampleProcess.Run(null, args);
        Assert.AreEqual(2, exit, stderr);
        StringAssert.Contains(stderr, "--port expects a port number from 1 to 65535");
        StringAssert.Contains(stderr, value is null ? "found nothing" : $"found '{value}'");
        Assert.DoesNotContain("serving on", stderr);
    }

    [TestMethod]
    public void ScoringSample_PortInUse_OneClearLineExitOneAndNeverSaysServing()
    {
        var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        try
        {
            var port = ((IPEndPoint)holder.LocalEndpoint).Port;
            var (exit, _, stderr) = SampleProcess.Run(null, CliModel.ModelZip, "--serve", "--port", port.ToString(CultureInfo.InvariantCulture));
            Assert.AreEqual(1, exit, stderr);
            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.HasCount(1, lines, "one line, no stack trace:\n" + stderr);
            StringAssert.StartsWith(lines[0], $"error: port {port} on 127.0.0.1 is in use");
        }
        finally
        {
            holder.Stop();
        }
    }

    [TestMethod]
    public void WebApi_ImagesAboveThePixelLimit_Refused413WithTheGateMessage_ATextIs400_ARealImageIsScored()
    {
        var port = SampleProcess.FreePort();
        using var server = SampleProcess.Serve(port);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        // One column above the default limit: cheap to decode, so without the gate it would be scored (200).
        var (status, body) = Post(http, PngWriter.Zeros(8193, 8192));
        Assert.AreEqual(HttpStatusCode.RequestEntityTooLarge, status, body);
        StringAssert.Contains(Error(body), "8,193×8,192");
        StringAssert.Contains(Error(body), "at most 67,108,864 pixels");

        (status, body) = Post(http, PngWriter.Zeros(50_000, 50_000, colorType: 6, rows: 0));
        Assert.AreEqual(HttpStatusCode.RequestEntityTooLarge, status, body);
        StringAssert.Contains(Error(body), "50,000×50,000");

        (status, body) = Post(http, Encoding.ASCII.GetBytes("not a picture"));
        Assert.AreEqual(HttpStatusCode.BadRequest, status, body);
        StringAssert.Contains(Error(body), "not an image the decoder knows");

        (status, body) = Post(http, File.ReadAllBytes(CliModel.Images()[0]));
        Assert.AreEqual(HttpStatusCode.OK, status, body);
        Assert.IsFalse(string.IsNullOrEmpty(JsonDocument.Parse(body).RootElement.GetProperty("label").GetString()));
        Assert.AreEqual(0, server.Stop(), server.Stderr);
    }

    [TestMethod]
    public void WebApi_BodyAboveTheUploadLimit_Refused413BeforeItIsRead()
    {
        var port = SampleProcess.FreePort();
        using var server = SampleProcess.Serve(port);
        // Only the headers are sent: the claim alone is refused, the 40 MB never travel.
        using var client = new TcpClient();
        client.Connect(IPAddress.Loopback, port);
        using var stream = client.GetStream();
        stream.Write(Encoding.ASCII.GetBytes("POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 40000000\r\n\r\n"));
        var response = new StreamReader(stream, Encoding.ASCII).ReadLine();
        Assert.AreEqual("HTTP/1.1 413 Payload Too Large", response);
        Assert.AreEqual(0, server.Stop(), server.Stderr);   // a graceful stop also removes the server's upload folder
    }

    [TestMethod]
    public void WebApi_UploadClosedHalfway_LeavesNoFileInTheTempFolder()
    {
        // The child's temporary folder is this test's own (TMPDIR), so nothing else on the machine is counted; the
        // runtime's diagnostic pipes, which would also live there, are switched off.
        var temp = Directory.CreateTempSubdirectory("hs-webapi-temp-").FullName;
        try
        {
            var port = SampleProcess.FreePort();
            using var server = SampleProcess.Serve(port, new Dictionary<string, string> { ["TMPDIR"] = temp + "/", ["DOTNET_EnableDiagnostics"] = "0" });
            Assert.IsEmpty(Uploads(temp));

            var image = PngWriter.Zeros(3000, 3000);   // ≈ 9 KB: its first 1,000 bytes are a valid PNG start
            for (var i = 0; i < 3; i++)
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, port);
                using var stream = client.GetStream();
                stream.Write(Encoding.ASCII.GetBytes("POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"));
                stream.Write(image.AsSpan(0, 1000));
                stream.Flush();
                client.Client.Shutdown(SocketShutdown.Both);   // gone after 1,000 of 1,000,000 bytes
            }
            // The server keeps working after the aborted uploads.
            using (var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") })
                Assert.AreEqual(HttpStatusCode.OK, Post(http, File.ReadAllBytes(CliModel.Images()[0])).Status);
            Assert.IsEmpty(Uploads(temp), "no upload is on disk while no request is being scored");

            Assert.AreEqual(0, server.Stop(), server.Stderr);
            Assert.IsEmpty(Directory.EnumerateFileSystemEntries(temp, "scoring-*").ToList(), "nothing of the server is left after it stopped");
            Assert.IsEmpty(Uploads(temp));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    [TestMethod]
    public async Task WebApi_PredictAsync_ClientGoneWhileWaitingForADecodeSlot_NeitherWritesAFileNorDecodes()
    {
        using var scorer = new ImageScorer(CliModel.ModelZip);
        using var uploads = new UploadFolder();
        using var decodes = new SemaphoreSlim(1);
        await decodes.WaitAsync();   // the only decode slot is busy
        using var gone = new CancellationTokenSource();
        var image = File.ReadAllBytes(CliModel.Images()[0]);

        var waiting = WebApi.PredictAsync(Request(image), scorer, decodes, uploads, gone.Token);
        Assert.IsFalse(waiting.IsCompleted, "the upload was read and admitted, and waits for the slot");
        gone.Cancel();   // the client leaves (HttpContext.RequestAborted)
        Assert.IsInstanceOfType<EmptyHttpResult>(await waiting);
        decodes.Release();
        Assert.AreEqual(0, scorer.EnginesCreated, "no decode was started for a client that had gone");
        Assert.IsEmpty(Directory.EnumerateFileSystemEntries(uploads.Path).ToList(), "no file was written");

        // The same upload from a client that stays is scored, and its file is gone afterwards.
        Assert.IsNotInstanceOfType<EmptyHttpResult>(await WebApi.PredictAsync(Request(image), scorer, decodes, uploads, CancellationToken.None));
        Assert.AreEqual(1, scorer.EnginesCreated);
        Assert.IsEmpty(Directory.EnumerateFileSystemEntries(uploads.Path).ToList());
        Assert.AreEqual(1, decodes.CurrentCount, "the slot was given back");
    }

    private static HttpRequest Request(byte[] body)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = "POST";
        http.Request.Body = new MemoryStream(body);
        http.Request.ContentLength = body.Length;
        return http.Request;
    }

    [TestMethod]
    public void WebApi_ServerKilledWhileAnUploadIsHalfway_LeavesNoFileInTheTempFolder()
    {
        // A request's finally block deletes its file when the client closes halfway (the test above), but not when the
        // server itself dies: then only a file that was never created is safe. The half upload is kept in memory.
        var temp = Directory.CreateTempSubdirectory("hs-webapi-temp-").FullName;
        try
        {
            var port = SampleProcess.FreePort();
            using var server = SampleProcess.Serve(port, new Dictionary<string, string> { ["TMPDIR"] = temp + "/", ["DOTNET_EnableDiagnostics"] = "0" });
            using var pending = new TcpClient();
            pending.Connect(IPAddress.Loopback, port);
            var stream = pending.GetStream();
            stream.Write(Encoding.ASCII.GetBytes("POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"));
            stream.Write(PngWriter.Zeros(3000, 3000).AsSpan(0, 1000));
            stream.Flush();
            // A whole request sent after the half one has been answered, so the half one's handler is running by now.
            using (var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") })
                Assert.AreEqual(HttpStatusCode.OK, Post(http, File.ReadAllBytes(CliModel.Images()[0])).Status);
            Assert.IsEmpty(Uploads(temp), "an upload that is still arriving has no file");

            server.KillNow();
            Assert.IsEmpty(Uploads(temp), "a killed server leaves no upload behind");
            Assert.HasCount(1, Directory.GetDirectories(temp, "scoring-sample-*"), "only its empty folder, which it could not delete");

            // The next server removes the folder of the dead one (and keeps its own).
            using var next = SampleProcess.Serve(SampleProcess.FreePort(), new Dictionary<string, string> { ["TMPDIR"] = temp + "/", ["DOTNET_EnableDiagnostics"] = "0" });
            var own = Directory.GetDirectories(temp, "scoring-sample-*");
            Assert.HasCount(1, own, "the dead server's folder is gone, the new server's is there");
            StringAssert.Contains(Path.GetFileName(own[0]), $"-{next.Id}-");
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    // The sample's uploads, wherever they are under the folder (the sample names them *.img).
    private static List<string> Uploads(string folder) => Directory.EnumerateFiles(folder, "*.img", SearchOption.AllDirectories).ToList();

    private static (HttpStatusCode Status, string Body) Post(HttpClient http, byte[] image)
    {
        using var content = new ByteArrayContent(image);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = http.PostAsync("/predict", content).GetAwaiter().GetResult();
        return (response.StatusCode, response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
    }

    private static string Error(string json) => JsonDocument.Parse(json).RootElement.GetProperty("error").GetString() ?? "";
}
