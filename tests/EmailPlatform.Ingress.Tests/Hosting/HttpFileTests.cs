using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Hosting;

/// <summary>Every example in <c>EmailPlatform.Ingress.http</c> works against a real ingress.</summary>
public sealed partial class HttpFileTests
{
    [Fact]
    public async Task EveryExampleInTheHttpFileSucceeds()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var scheduled = await app.PostEmailAsync(SendBodies.Json(b => b["scheduled_at"] = DateTimeOffset.UtcNow.AddHours(1).ToString("O")).ToJsonString());
        var emailId = JsonDocument.Parse(await scheduled.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        var (_, apiKeyId) = await app.CreateApiKeyAsync(new { name = "to-revoke" });

        var file = await File.ReadAllTextAsync(Path.Combine(ServiceProcess.RepositoryRoot(), "services", "EmailPlatform.Ingress", "EmailPlatform.Ingress.http"));
        // The file's own variable definitions (before the first ###) are replaced by the test's values.
        var text = Variable().Replace(file[file.IndexOf("\n###", StringComparison.Ordinal)..], m => m.Groups[1].Value switch
        {
            "host" => "",
            "key" => app.ApiKey,
            "emailId" => emailId,
            "apiKeyId" => apiKeyId.ToString(),
            var other when DateTimeVariable().Match(other) is { Success: true } at =>
                DateTimeOffset.UtcNow.AddHours(int.Parse(at.Groups[1].Value, CultureInfo.InvariantCulture)).ToString("O", CultureInfo.InvariantCulture),
            var other => throw new InvalidOperationException($"unknown variable {other}"),
        });

        var requests = text.Split("\n###").Skip(1).Select(Parse).ToList();
        Assert.Equal(18, requests.Count);
        foreach (var (title, request) in requests)
        {
            using (request)
            {
                if (request.Method == HttpMethod.Get && request.RequestUri!.OriginalString.StartsWith("/v1/emails", StringComparison.Ordinal))
                {
                    continue; // Forwarded to the status service, which this test does not run.
                }

                using var response = await client.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.IsSuccessStatusCode, $"{title}: {(int)response.StatusCode} {body}");
            }
        }
    }

    private static (string Title, HttpRequestMessage Request) Parse(string block)
    {
        var lines = block.Replace("\r", "", StringComparison.Ordinal).Split('\n');
        var title = lines[0].Trim();
        var i = 1;
        while (lines[i].Trim().Length == 0 || lines[i].TrimStart().StartsWith('#'))
        {
            i++;
        }

        var requestLine = lines[i++].Split(' ', 2);
        var request = new HttpRequestMessage(new HttpMethod(requestLine[0]), new Uri(requestLine[1].Trim(), UriKind.Relative));
        var headers = new List<(string, string)>();
        for (; i < lines.Length && lines[i].Trim().Length > 0; i++)
        {
            var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
            headers.Add((lines[i][..colon].Trim(), lines[i][(colon + 1)..].Trim()));
        }

        var content = string.Join('\n', lines.Skip(i)).Trim();
        if (content.Length > 0)
        {
            request.Content = new StringContent(content, System.Text.Encoding.UTF8, "application/json");
        }

        foreach (var (name, value) in headers.Where(h => !h.Item1.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)))
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return (title, request);
    }

    [GeneratedRegex(@"\{\{([^}]+)\}\}")]
    private static partial Regex Variable();

    [GeneratedRegex(@"^\$datetime iso8601 (\d+) h$")]
    private static partial Regex DateTimeVariable();
}
