// The tests share one packed feed and each builds or installs into its own temp folder; one at a time keeps the 2-core
// machine from running two restores and two trainings at once.
[assembly: Microsoft.VisualStudio.TestTools.UnitTesting.DoNotParallelize]
