using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ScoringSample;

/// <summary>A minimal web API over <see cref="ImageScorer"/>, bound to localhost only.</summary>
internal static class WebApi
{
    /// <summary>Serves <c>POST /predict</c> (body: image bytes) and <c>GET /classes</c> until Ctrl+C.</summary>
    public static async Task RunAsync(ImageScorer scorer, int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        app.Urls.Add(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}"));
        app.MapGet("/classes", () => Results.Json(scorer.ClassNames));
        app.MapPost("/predict", async (HttpRequest request) =>
        {
            // ML.NET's image loader reads files: spool the upload to a temporary file, score, delete.
            var temp = Path.Combine(Path.GetTempPath(), "scoring-" + Guid.NewGuid().ToString("N") + ".img");
            try
            {
                await using (var file = File.Create(temp)) await request.Body.CopyToAsync(file);
                if (new FileInfo(temp).Length == 0) return Results.BadRequest(new { error = "the request body must be the image bytes; it was empty" });
                var p = scorer.Score(temp);
                return Results.Json(new { label = p.Label, probability = p.Probability, top = p.Top.Select(t => new { label = t.Label, probability = t.Probability }) });
            }
            catch (Exception e) when (e is InvalidDataException or InvalidOperationException or ArgumentException)
            {
                return Results.BadRequest(new { error = $"the body is not an image this model can read: {(e.InnerException ?? e).Message}" });
            }
            finally
            {
                File.Delete(temp);
            }
        });
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"serving on http://127.0.0.1:{port} — POST /predict with image bytes, GET /classes; Ctrl+C stops"));
        await app.RunAsync();
    }
}
