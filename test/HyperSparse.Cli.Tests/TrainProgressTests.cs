using Microsoft.ML.HyperSparse;
using SkiaSharp;

namespace HyperSparse.Cli.Tests;

/// <summary>
/// The CLI reads progress as data: with every log message of the trainer reworded (reversed), `train` still shows each
/// epoch, the end of ART and a resume exactly. A CLI that parsed the log's wording shows none of it.
/// </summary>
[TestClass]
public sealed class TrainProgressTests
{
    [TestMethod]
    public void Train_LogWordingScrambled_ProgressAndResumeAreStillShown()
    {
        var root = CliRunner.TempFolder("hs-cli-progress");
        try
        {
            var data = Path.Combine(root, "data");
            for (var c = 0; c < 2; c++)
                for (var i = 0; i < 12; i++)
                {
                    var path = Path.Combine(data, c == 0 ? "dark" : "light", $"{i:D2}.png");
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    using var bitmap = new SKBitmap(new SKImageInfo(16, 16, SKColorType.Rgba8888, SKAlphaType.Premul));
                    var v = (byte)(c == 0 ? 30 + i : 200 - i);
                    bitmap.Erase(new SKColor(v, v, v));
                    using var image = SKImage.FromBitmap(bitmap);
                    using var png = image.Encode(SKEncodedImageFormat.Png, 100);
                    File.WriteAllBytes(path, png.ToArray());
                }
            var output = Path.Combine(root, "out");
            string[] Args(params string[] more) => new[] { "train", "--data", data, "--out", output, "--image-size", "16", "--warmup", "2",
                "--max-art", "2", "--finetune", "2", "--batch-size", "8", "--holdout", "0", "--plain", "--threads", "1" }.Concat(more).ToArray();

            HyperSparseClassificationTrainer.LogWording = message => new string(message.Reverse().ToArray());
            CliRunner.Result first, resumed;
            try
            {
                first = CliRunner.Run(Args());
                resumed = CliRunner.Run(Args("--resume"));
            }
            finally
            {
                HyperSparseClassificationTrainer.LogWording = null;
            }
            Assert.AreEqual(0, first.ExitCode, first.ToString());
            foreach (var line in new[] { "warm-up     1/2", "warm-up     2/2", "ART         1/≤2", "fine-tune   1/2", "fine-tune   2/2" })
                StringAssert.Contains(first.Out, line, first.Out);
            Assert.IsTrue(first.Out.Contains("ART stop rule fired after", StringComparison.Ordinal) || first.Out.Contains("ART cap of 2 epochs reached", StringComparison.Ordinal),
                first.Out);
            Assert.AreEqual(0, resumed.ExitCode, resumed.ToString());
            StringAssert.Matches(resumed.Out, new System.Text.RegularExpressions.Regex(@"Resumed from 'epoch-\d{4}\.hsckpt' at epoch \d"), resumed.Out);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
