using EmailPlatform.Deployment.Tests.Support;

namespace EmailPlatform.Deployment.Tests.Images;

public sealed class DockerfileTests
{
    public static TheoryData<string> Hosts() => [.. ServiceSources.Hosts];

    private static Dockerfile Load(string host) => Dockerfile.Parse(Repo.Read($"services/{host}/Dockerfile"));

    [Theory]
    [MemberData(nameof(Hosts))]
    public void EveryHostHasADockerfile(string host) =>
        Assert.True(File.Exists(Repo.PathOf($"services/{host}/Dockerfile")), $"services/{host}/Dockerfile is missing");

    [Theory]
    [InlineData("EmailPlatform.Ingress")]
    [InlineData("EmailPlatform.Delivery")]
    [InlineData("EmailPlatform.Status")]
    [InlineData("EmailPlatform.Standalone")]
    public void TheHealthCheckIsTheServicesOwnCommand(string host)
    {
        var check = Load(host).FinalStage.SingleOrDefault(i => i.Keyword == "HEALTHCHECK");
        Assert.NotNull(check);
        Assert.EndsWith($"CMD [\"dotnet\", \"{host}.dll\", \"healthcheck\"]", check.Arguments, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Hosts))]
    public void BuildsInOneStageAndRunsInAnother(string host)
    {
        var dockerfile = Load(host);
        Assert.True(dockerfile.StageCount >= 2, $"{host}: not a multi-stage build");
        Assert.DoesNotContain(dockerfile.FinalStage, i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal));
        Assert.Contains(dockerfile.FinalStage, i => i.Keyword == "COPY" && i.Arguments.Contains("--from=build", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Hosts))]
    public void RunsAsANumericNonRootUser(string host)
    {
        var user = Load(host).FinalStage.LastOrDefault(i => i.Keyword == "USER")?.Arguments.Split(':')[0];
        Assert.NotNull(user);
        Assert.True(int.TryParse(user, out var uid) && uid > 0,
            $"{host}: USER '{user}' is not a numeric non-root user (Kubernetes' runAsNonRoot can only verify numeric ones)");
    }

    [Theory]
    [MemberData(nameof(Hosts))]
    public void RestoresFromTheProjectFilesAndRepositoryPropsBeforeCopyingSources(string host)
    {
        var dockerfile = Load(host);
        var restore = dockerfile.IndexOf(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet restore", StringComparison.Ordinal));
        Assert.True(restore >= 0, $"{host}: no dotnet restore step");
        var copiedBefore = dockerfile.Instructions.Take(restore).Where(i => i.Keyword == "COPY")
            .SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipLast(1))
            .ToHashSet();

        string[] repositoryFiles = ["global.json", "Directory.Build.props", "Directory.Packages.props"];
        Assert.All(repositoryFiles, f => Assert.Contains(f, copiedBefore));
        Assert.All(ServiceSources.ProjectClosure(host), csproj => Assert.Contains(csproj, copiedBefore));
        Assert.DoesNotContain(copiedBefore, source => source.EndsWith('/') || source == ".");
    }

    [Theory]
    [MemberData(nameof(Hosts))]
    public void PublishesTheHostInReleaseWithoutRestoringAgain(string host)
    {
        var dockerfile = Load(host);
        var publish = dockerfile.Instructions.Single(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal));
        Assert.Contains($"services/{host}/{host}.csproj", publish.Arguments, StringComparison.Ordinal);
        Assert.Contains("-c Release", publish.Arguments, StringComparison.Ordinal);
        Assert.Contains("--no-restore", publish.Arguments, StringComparison.Ordinal);

        var index = dockerfile.Instructions.ToList().IndexOf(publish);
        var sourcesCopied = dockerfile.Instructions.Take(index).Where(i => i.Keyword == "COPY")
            .SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipLast(1))
            .ToHashSet();
        Assert.All(ServiceSources.ProjectClosure(host), csproj =>
            Assert.Contains(Path.GetDirectoryName(csproj)!.Replace('\\', '/') + "/", sourcesCopied));
    }

    [Theory]
    [MemberData(nameof(Hosts))]
    public void StartsTheHostsAssembly(string host)
    {
        var entrypoint = Load(host).FinalStage.Last(i => i.Keyword == "ENTRYPOINT");
        Assert.Equal($"[\"dotnet\", \"{host}.dll\"]", entrypoint.Arguments);
    }

    [Theory]
    [MemberData(nameof(Hosts))]
    public void BakesInNoCredentialsOrServiceConfiguration(string host)
    {
        foreach (var instruction in Load(host).Instructions.Where(i => i.Keyword is "ENV" or "ARG"))
        {
            foreach (var root in ServiceSources.CheckedRoots.Where(r => r != "Standalone"))
            {
                Assert.DoesNotContain($"{root}__", instruction.Arguments, StringComparison.OrdinalIgnoreCase);
            }

            Assert.DoesNotMatch("(?i)(password|secret|apikey|api_key)", instruction.Arguments);
        }
    }

    [Theory]
    [InlineData("EmailPlatform.Status", "bench/status.sh")]
    public void TheBenchmarksAndTestProcessesRunTheServiceWithTheFirstGenerationItsImageSets(string host, string benchmark)
    {
        var set = Load(host).FinalStage.Where(i => i.Keyword == "ENV")
            .Select(i => System.Text.RegularExpressions.Regex.Match(i.Arguments, @"\bDOTNET_GCgen0size=(0x[0-9A-Fa-f]+)\b"))
            .SingleOrDefault(m => m.Success)?.Groups[1].Value;
        Assert.NotNull(set);
        Assert.Contains($"GC_GEN0SIZE=\"${{GC_GEN0SIZE:-{set}}}\"", Repo.Read(benchmark), StringComparison.Ordinal);
        Assert.Contains($"TryAdd(\"DOTNET_GCgen0size\", \"{set}\")", Repo.Read("tests/EmailPlatform.Testing/ServiceProcess.cs"), StringComparison.Ordinal);
    }

    [Fact]
    public void TheBuildContextLeavesOutBuildOutputAndKeepsWhatTheDockerfilesCopy()
    {
        var ignored = Repo.Read(".dockerignore").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToHashSet();
        Assert.Contains("**/bin/", ignored);
        Assert.Contains("**/obj/", ignored);
        Assert.Contains("artifacts/", ignored);
        Assert.Contains(".git/", ignored);

        var copied = ServiceSources.Hosts.SelectMany(h => Load(h).Instructions)
            .Where(i => i.Keyword == "COPY" && !i.Arguments.Contains("--from", StringComparison.Ordinal))
            .SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipLast(1))
            .ToHashSet();
        foreach (var source in copied)
        {
            Assert.True(Repo.Exists(source), $"a Dockerfile copies {source}, which does not exist");
            Assert.DoesNotContain(ignored, pattern =>
                source.TrimEnd('/') == pattern.TrimEnd('/') || source.StartsWith(pattern.TrimEnd('/') + "/", StringComparison.Ordinal));
        }
    }
}
