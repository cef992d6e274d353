using EmailPlatform.Testing;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// Each service's <c>migrate</c> command, as the Helm chart's migrations Job and docker compose run it: on a new
/// database it applies everything and logs nothing an operator would take for a problem, and run again it does nothing.
/// </summary>
public sealed class MigrateCommandTests
{
    [Theory]
    [InlineData("EmailPlatform.Ingress")]
    [InlineData("EmailPlatform.Status")]
    [InlineData("EmailPlatform.Delivery")]
    public async Task MigrateOnANewDatabaseLogsNoErrorOrWarningAndRunAgainSucceeds(string project)
    {
        await using var database = await TemporaryDatabase.CreateAsync();
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = database.ConnectionString,
            ["Logging__Console__FormatterName"] = "simple",
        };

        foreach (var run in new[] { "first", "second" })
        {
            var (exitCode, output) = await ServiceProcess.RunAsync(project, environment, "migrate");
            Assert.True(exitCode == 0, $"{project} migrate ({run} run) exited {exitCode}: {output}");
            // EF Core read the history table of a new database before creating it and logged that as a failed command, and
            // warned about every concurrent index build: both at every install.
            Assert.DoesNotContain("fail:", output, StringComparison.Ordinal);
            Assert.DoesNotContain("warn:", output, StringComparison.Ordinal);
            Assert.DoesNotContain("crit:", output, StringComparison.Ordinal);
        }
    }
}
