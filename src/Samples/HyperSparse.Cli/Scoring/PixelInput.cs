using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.HyperSparse;
using SkiaSharp;

namespace HyperSparse.Cli.Scoring;

/// <summary>
/// The input contract of a model.zip whose chain takes a flat vector of pixels (trained through the C# API with ImageChannels,
/// ImageHeight and ImageWidth, no LoadImages in the chain), read from the model itself: the feature column's name, C×H×W and
/// the pixel scale come from the HyperSparse ONNX metadata (<see cref="HyperSparseModelInfo"/>), the vector size from the
/// saved input schema. An image file is turned into what such a model was trained on: decoded, resized to H×W, C channels
/// (1 = luminance, 3 = R, G, B) in C×H×W order.
/// </summary>
/// <param name="Column">The model's feature column (the ONNX input).</param>
/// <param name="ValueScale">What one raw pixel step (0..255) becomes in the vector: 1 for a model whose pixel scale is 1/255
/// (it was trained on raw 0..255 values, ExtractPixels' range), 1/255 for a pixel scale of 1 (trained on 0..1 values).</param>
internal sealed record PixelInput(string Column, int Channels, int Height, int Width, float PixelScale, float ValueScale)
{
    public int Size => Channels * Height * Width;

    /// <summary>
    /// The contract, or a usage error naming exactly what is missing: the HyperSparse metadata, the pixel scale, a fixed
    /// C×H×W, or a feature column of that many floats in the saved input schema.
    /// </summary>
    public static PixelInput FromModel(string path, DataViewSchema inputSchema, string expected)
    {
        HyperSparseModelInfo info;
        try
        {
            info = HyperSparseModelInfo.Read(path);
        }
        catch (InvalidDataException ex)
        {
            throw new UsageException($"{expected}, a model without LoadImages whose ONNX model cannot be read, so its input contract is unknown: {ex.Message}");
        }
        var contract = info.Contract;
        if (!info.IsHyperSparseModel)
            throw new UsageException($"{expected}, a model without LoadImages whose ONNX model has no HyperSparse metadata, so the input image size, " +
                "channels and pixel scale are unknown (the model was not written by Microsoft.ML.HyperSparse).");
        if (contract.PixelScale is not { } scale || !(scale > 0))
            throw new UsageException($"{expected}, a model whose ONNX metadata has no pixel scale for input '{contract.InputName}', so the pixel values it expects are unknown.");
        // The graph input is [batch, C, H, W].
        var dims = contract.InputShape.Skip(1).Select(d => int.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 0).ToArray();
        if (dims.Length != 3 || dims.Contains(0))
            throw new UsageException($"{expected}, a model whose input '{contract.InputName}' has the shape [{string.Join(", ", contract.InputShape)}]: " +
                "expected [batch, C, H, W] with fixed C, H and W.");
        var (c, h, w) = (dims[0], dims[1], dims[2]);
        if (c is not (1 or 3))
            throw new UsageException($"{expected}, a model whose input '{contract.InputName}' has {c} channels: expected 1 (luminance) or 3 (RGB) to make it from an image file.");
        var column = inputSchema.GetColumnOrNull(contract.InputName);
        if (column is null)
            throw new UsageException($"{expected}, a model whose saved input schema has no column '{contract.InputName}' (the ONNX input); " +
                $"its input columns are {(inputSchema.Count == 0 ? "none" : string.Join(", ", inputSchema.Select(col => $"{col.Name} ({col.Type})")))}.");
        if (column.Value.Type is not VectorDataViewType { ItemType: PrimitiveDataViewType item } vector || item != NumberDataViewType.Single || vector.Size != c * h * w)
            throw new UsageException($"{expected}, a model whose input column '{contract.InputName}' is {column.Value.Type}: expected a vector of {c * h * w} Single " +
                $"({c}×{h}×{w} from the ONNX input).");
        // The model multiplies its input by the pixel scale; this keeps pixel scale × value = raw / 255 (ExtractPixels' 0..255 with
        // 1/255, or 0..1 values with 1). Exactly 1 for the common 1/255, so a gray image's raw values reach the model unchanged.
        var valueScale = MathF.Abs(scale * 255f - 1f) < 1e-6f ? 1f : (float)(1.0 / (255.0 * scale));
        return new PixelInput(contract.InputName, c, h, w, scale, valueScale);
    }

    /// <summary>"'Pixels': 1×8×8, luminance, raw 0..255" — for the commands' header line.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"input '{Column}': {Channels}×{Height}×{Width} {(Channels == 1 ? "luminance" : "RGB")} values, {(ValueScale == 1f ? "raw 0..255" : $"0..{255 * ValueScale:G4}")} (model pixel scale {PixelScale:G4})");

    /// <summary>Decodes an image file (already admitted by <see cref="Data.ImageCheck"/>) into the model's input vector.</summary>
    public float[] Read(string path)
    {
        var info = new SKImageInfo(0, 0, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var codec = SKCodec.Create(path) ?? throw new InvalidDataException($"'{path}' is not an image SkiaSharp can decode.");
        info = info.WithSize(codec.Info.Width, codec.Info.Height);
        using var decoded = new SKBitmap(info);
        var result = codec.GetPixels(info, decoded.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new InvalidDataException($"'{path}' could not be decoded: {result}.");
        return FromBitmap(decoded);
    }

    /// <summary>An in-memory image (ML.NET's MLImage, e.g. from an IDX file) into the model's input vector.</summary>
    public float[] FromImage(MLImage image)
    {
        if (image.PixelFormat is not (MLPixelFormat.Bgra32 or MLPixelFormat.Rgba32))
            throw new InvalidDataException($"expected a 32-bit BGRA or RGBA image, found {image.PixelFormat}.");
        var rgba = image.Pixels.ToArray();
        if (image.PixelFormat == MLPixelFormat.Bgra32)
            for (var p = 0; p < rgba.Length; p += 4) (rgba[p], rgba[p + 2]) = (rgba[p + 2], rgba[p]);
        using var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        return FromBitmap(bitmap);
    }

    private float[] FromBitmap(SKBitmap image)
    {
        // An image already H×W is read as it is (exact values); others are resized with bilinear filtering.
        using var resized = image.Width == Width && image.Height == Height
            ? image.Copy()
            : image.Resize(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        var pixels = resized.Bytes;
        var vector = new float[Size];
        var plane = Height * Width;
        for (var p = 0; p < plane; p++)
        {
            float r = pixels[4 * p], g = pixels[4 * p + 1], b = pixels[4 * p + 2];
            if (Channels == 1)
            {
                // Luminance (ITU-R BT.601 weights): a gray image (R = G = B) keeps its exact value.
                vector[p] = r == g && g == b ? r * ValueScale : (0.299f * r + 0.587f * g + 0.114f * b) * ValueScale;
            }
            else
            {
                // C×H×W: the whole red plane, then green, then blue.
                vector[p] = r * ValueScale;
                vector[plane + p] = g * ValueScale;
                vector[2 * plane + p] = b * ValueScale;
            }
        }
        return vector;
    }
}
