namespace EmailPlatform.Status.Suppressions;

/// <summary>Configuration section <c>Status:Suppression</c>.</summary>
public sealed class SuppressionOptions
{
    public const string SectionName = "Status:Suppression";

    /// <summary>5.1.1 bad mailbox, 5.1.2 bad domain, 5.1.10 null MX, 5.2.1 mailbox disabled.</summary>
    public static readonly IReadOnlyList<string> DefaultHardBounceCodes = ["5.1.1", "5.1.2", "5.1.10", "5.2.1"];

    /// <summary>
    /// Enhanced status codes of a bounce that suppress the address: an exact code (<c>5.1.1</c>) or a class and
    /// subject (<c>5.1</c>, any detail).
    /// </summary>
    public string[]? HardBounceCodes { get; set; }

    public IReadOnlyList<string> Codes => HardBounceCodes is { Length: > 0 } codes ? codes : DefaultHardBounceCodes;

    public bool Suppresses(string? enhancedCode) =>
        enhancedCode is not null && Codes.Any(c => enhancedCode == c || enhancedCode.StartsWith(c + ".", StringComparison.Ordinal) && c.Count(ch => ch == '.') == 1);
}
