namespace Microsoft.ML.HyperSparse.Engine.Data;

/// <summary>
/// Random training-time augmentation, as torchvision's RandomCrop(size, padding) followed by RandomHorizontalFlip(0.5).
/// The crop pads the raw image with 0 on every side before taking a random window of the original size, so padded
/// pixels normalise to (0 − mean) / std, as when torchvision pads the PIL image before Normalize.
/// </summary>
internal sealed record Augmentation
{
    /// <summary>Creates the augmentation.</summary>
    internal Augmentation(int cropPadding, bool horizontalFlip)
    {
        if (cropPadding < 0)
            throw new ArgumentException($"Expected a crop padding ≥ 0, found {cropPadding}.", nameof(cropPadding));
        CropPadding = cropPadding;
        HorizontalFlip = horizontalFlip;
    }

    /// <summary>Zero padding on each side before the random crop; 0 means no crop.</summary>
    internal int CropPadding { get; }

    /// <summary>Whether images are mirrored left-right with probability 0.5.</summary>
    internal bool HorizontalFlip { get; }

    /// <summary>No augmentation.</summary>
    internal static Augmentation None { get; } = new(0, false);

    /// <summary>Whether any random draw happens per image.</summary>
    internal bool IsNone => CropPadding == 0 && !HorizontalFlip;
}
