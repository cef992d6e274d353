using System.Text.RegularExpressions;
using EmailPlatform.Deployment.Tests.Support;

namespace EmailPlatform.Deployment.Tests.Docs;

/// <summary>
/// The README's configuration table is where an operator looks a setting up: every key the services read is in it.
/// A row names its keys in its first cell, in full (<c>Status:Retention:BodiesAfter</c>) or, after a first one, by
/// their last segment (<c>EventsAfter</c>, <c>:PollInterval</c>); a list or section by a key under it
/// (<c>Delivery:Dkim:N:Domain</c> for <c>Delivery:Dkim:*:Domain</c>).
/// </summary>
public sealed partial class ReadmeConfigurationTableTests
{
    [Fact]
    public void EveryConfigurationKeyTheServicesReadIsInTheReadmesConfigurationTable()
    {
        var readme = Repo.Read("README.md");
        var start = readme.IndexOf("\n## Configuration", StringComparison.Ordinal);
        var section = readme[start..readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal)];
        var rows = section.Split('\n')
            .Where(l => l.StartsWith("| `", StringComparison.Ordinal))
            .Select(l => Code().Matches(l.Split(" | ")[0]).Select(m => m.Groups["name"].Value).ToList())
            .ToList();
        Assert.NotEmpty(rows);

        var missing = ServiceSources.KeysByProject.Values.SelectMany(k => k).Distinct(StringComparer.Ordinal)
            .Where(key => !rows.Any(names => Names(names, key)))
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.True(missing.Count == 0, $"README.md's configuration table has no row for {string.Join(", ", missing)}");
    }

    private static bool Names(List<string> names, string key)
    {
        // A list (Delivery:Relays:*:Host, Status:BounceListener:Domains:*) is named by its own key.
        var list = key.IndexOf(":*", StringComparison.Ordinal);
        if (list >= 0)
        {
            return Names(names, key[..list]);
        }

        var parent = key[..key.LastIndexOf(':')];
        var last = key[(parent.Length + 1)..];
        return names.Contains(key)
            || names.Any(n => n.StartsWith(key + ":", StringComparison.Ordinal))
            || (names.Any(n => n.Contains(':', StringComparison.Ordinal) && !n.StartsWith(':') && n[..n.LastIndexOf(':')] == parent)
                && (names.Contains(last) || names.Contains(":" + last)));
    }

    [GeneratedRegex("`(?<name>[^`]+)`")]
    private static partial Regex Code();
}
