using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace HyperSparse.Cli.Data;

/// <summary>A row of an image-folder dataset: the file and its class name.</summary>
public sealed class ImagePathRow
{
    /// <summary>Path of the image file.</summary>
    public string ImagePath { get; set; } = "";

    /// <summary>Class name (the subfolder's name).</summary>
    public string LabelText { get; set; } = "";
}

/// <summary>A row of an in-memory (IDX) dataset: the decoded image and its class name.</summary>
public sealed class InMemoryImageRow
{
    /// <summary>
    /// The image (BGRA, as ML.NET's LoadImages produces). The attribute registers MLImage as an IDataView type (ML.NET's
    /// size-less ImageType() throws); <see cref="Views.InMemory"/> sets the real size.
    /// </summary>
    [ImageType(28, 28)]
    public MLImage? Image { get; set; }

    /// <summary>Class name.</summary>
    public string LabelText { get; set; } = "";
}

/// <summary>One class name, for MapValueToKey's keyData (fixes the key order to the class order).</summary>
public sealed class ClassNameRow
{
    /// <summary>Class name.</summary>
    public string Value { get; set; } = "";
}

internal static class Views
{
    public const string ImagePath = nameof(ImagePathRow.ImagePath);
    public const string LabelText = nameof(ImagePathRow.LabelText);
    public const string Image = nameof(InMemoryImageRow.Image);

    public static IDataView Files(MLContext ml, IEnumerable<LabeledImage> images) =>
        ml.Data.LoadFromEnumerable(images.Select(i => new ImagePathRow { ImagePath = i.Path, LabelText = i.Label }).ToList());

    public static IDataView ClassNames(MLContext ml, IEnumerable<string> names) =>
        ml.Data.LoadFromEnumerable(names.Select(n => new ClassNameRow { Value = n }).ToList());

    /// <summary>IDX images as an IDataView of MLImage (created lazily per row, so 60k images do not sit in memory twice).</summary>
    public static IDataView InMemory(MLContext ml, IdxImages data, string[] classNames, IReadOnlyList<int> indices)
    {
        var schema = SchemaDefinition.Create(typeof(InMemoryImageRow));
        if ((data.Height, data.Width) != (28, 28))
        {
            new ImageTypeAttribute(data.Height, data.Width).Register();
            schema[Image].ColumnType = new ImageDataViewType(data.Height, data.Width);
        }
        return ml.Data.LoadFromEnumerable(Rows(data, classNames, indices), schema);
    }

    private static IEnumerable<InMemoryImageRow> Rows(IdxImages data, string[] classNames, IReadOnlyList<int> indices)
    {
        foreach (var i in indices)
            yield return new InMemoryImageRow { Image = ToImage(data, i), LabelText = classNames[data.Labels[i]] };
    }

    /// <summary>A grayscale IDX image as a BGRA MLImage (what LoadImages gives for a grayscale PNG).</summary>
    public static MLImage ToImage(IdxImages data, int index)
    {
        var gray = data.Image(index);
        var bgra = new byte[gray.Length * 4];
        for (var p = 0; p < gray.Length; p++)
        {
            bgra[4 * p] = bgra[4 * p + 1] = bgra[4 * p + 2] = gray[p];
            bgra[4 * p + 3] = 255;
        }
        return MLImage.CreateFromPixels(data.Width, data.Height, MLPixelFormat.Bgra32, bgra);
    }
}
