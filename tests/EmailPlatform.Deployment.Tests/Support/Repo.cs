namespace EmailPlatform.Deployment.Tests.Support;

/// <summary>The repository checkout the tests read: found by walking up to <c>EmailPlatform.sln</c>.</summary>
internal static class Repo
{
    public static readonly string Root = FindRoot();

    public static string PathOf(string relative) =>
        Path.GetFullPath(Path.Combine(Root, relative.Replace('/', Path.DirectorySeparatorChar)));

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));

    public static bool Exists(string relative) => File.Exists(PathOf(relative)) || Directory.Exists(PathOf(relative));

    /// <summary>Relative path with forward slashes, for messages and comparisons.</summary>
    public static string Relative(string fullPath) => Path.GetRelativePath(Root, fullPath).Replace('\\', '/');

    /// <summary>C# files of the shipped code (services and contracts), without build output.</summary>
    public static IEnumerable<string> SourceFiles() =>
        new[] { "services", "contracts" }
            .SelectMany(dir => Directory.EnumerateFiles(PathOf(dir), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EmailPlatform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"EmailPlatform.sln not found above {AppContext.BaseDirectory}.");
    }
}
