using Microsoft.ML.HyperSparse;

namespace HyperSparse.Cli.Training;

/// <summary>
/// A documented training schedule. The paper profile is the reference code's; quick and standard are shortened
/// schedules whose λ grows fast enough for ART's stop rule to fire within their epochs (measured, see README).
/// </summary>
internal sealed record Profile(
    string Name,
    string Summary,
    int BatchSize,
    double LearningRate,
    int WarmupEpochs,
    double LambdaInit,
    double LambdaGrowth,
    int MaxArtEpochs,
    int FineTuneEpochs,
    int[] LearningRateSteps,
    int CropPadding)
{
    /// <summary>Minutes on a 2-core CPU for LeNet-5 on Fashion-MNIST (60k): a smoke-and-demo schedule.</summary>
    public static readonly Profile Quick = new(
        "quick",
        "demo schedule: LeNet-5 on the full Fashion-MNIST train split in a few minutes on 2 CPU cores",
        // LR 0.05 rather than the reference's 0.1: LeNet-5 has no batch norm, and at LR 0.1 it can stay at chance
        // (it did at batch 128, seed 42). Measured at batch 256: 88.05 % (LR 0.05) vs 87.69 % (LR 0.1) on the test split.
        BatchSize: 256, LearningRate: 0.05,
        WarmupEpochs: 10, LambdaInit: 2e-4, LambdaGrowth: 1.5, MaxArtEpochs: 30,
        FineTuneEpochs: 15, LearningRateSteps: new[] { 8, 12 },
        CropPadding: 2);

    /// <summary>A longer schedule: a few times the quick one, closer to the paper's accuracy.</summary>
    public static readonly Profile Standard = new(
        "standard",
        "longer schedule (about 4× quick) with a gentler λ growth",
        // LR 0.05: LeNet-5 (no batch norm) at batch 128 and LR 0.1 stayed at chance from the first epoch (seed 42).
        BatchSize: 128, LearningRate: 0.05,
        WarmupEpochs: 30, LambdaInit: 5e-5, LambdaGrowth: 1.2, MaxArtEpochs: 100,
        FineTuneEpochs: 60, LearningRateSteps: new[] { 30, 45 },
        // 2 px, not the reference's 4 (tuned for 32×32 CIFAR): with 4 on 28×28 Fashion-MNIST this profile ended at 86.5 %.
        CropPadding: 2);

    /// <summary>The reference code's schedule (the library's defaults): hours even for small networks on a CPU.</summary>
    public static readonly Profile Paper = new(
        "paper",
        "the reference code's full schedule (the library's defaults); ART has no cap in the reference, 300 here",
        BatchSize: HyperSparseDefaults.BatchSize, LearningRate: HyperSparseDefaults.LearningRate,
        WarmupEpochs: HyperSparseDefaults.WarmupEpochs, LambdaInit: HyperSparseDefaults.LambdaInit, LambdaGrowth: HyperSparseDefaults.LambdaGrowth,
        MaxArtEpochs: HyperSparseDefaults.MaxArtEpochs, FineTuneEpochs: HyperSparseDefaults.FineTuneEpochs,
        LearningRateSteps: HyperSparseDefaults.LearningRateSteps.ToArray(),
        CropPadding: HyperSparseDefaults.CropPadding);

    /// <summary>
    /// The library's schedule for a pretrained start (<c>HyperSparseDefaults.Transfer…</c>): a short head stage in place of the
    /// warm-up, a small learning rate, λ grown fast enough for the stop rule to fire within the ART cap on a few thousand images.
    /// </summary>
    public static readonly Profile Transfer = new(
        "transfer",
        "pretrained start (--pretrained): head stage, then ART, prune and fine-tune at the small LR a pretrained network needs",
        BatchSize: 32, LearningRate: HyperSparseDefaults.TransferLearningRate,
        WarmupEpochs: HyperSparseDefaults.TransferHeadEpochs, LambdaInit: HyperSparseDefaults.TransferLambdaInit,
        LambdaGrowth: HyperSparseDefaults.TransferLambdaGrowth, MaxArtEpochs: HyperSparseDefaults.TransferMaxArtEpochs,
        FineTuneEpochs: HyperSparseDefaults.TransferFineTuneEpochs, LearningRateSteps: HyperSparseDefaults.TransferLearningRateSteps.ToArray(),
        CropPadding: HyperSparseDefaults.CropPadding);

    public static readonly Profile[] All = { Quick, Standard, Paper, Transfer };

    public static Profile Named(string name) => All.Single(p => p.Name == name);

    /// <summary>
    /// Copies the schedule into trainer options (everything else keeps the library's defaults). With
    /// <paramref name="timeBudget"/> the profile gives batch size, learning rate and augmentation only: the epoch counts, the
    /// λ schedule and the fine-tune LR steps are left unset, so the trainer's time-budget planner chooses them.
    /// </summary>
    public void ApplyTo(HyperSparseClassificationTrainer.Options options, bool timeBudget = false)
    {
        options.BatchSize = BatchSize;
        options.LearningRate = LearningRate;
        options.CropPadding = CropPadding;
        if (timeBudget) return;
        options.WarmupEpochs = WarmupEpochs;
        options.LambdaInit = LambdaInit;
        options.LambdaGrowth = LambdaGrowth;
        options.MaxArtEpochs = MaxArtEpochs;
        options.FineTuneEpochs = FineTuneEpochs;
        options.LearningRateSteps = LearningRateSteps.ToArray();
    }
}
