using System.Text.Json;
using System.Text.RegularExpressions;
using EmailPlatform.Ingress.Sending;

namespace EmailPlatform.Ingress.Templates;

/// <summary>What a template (or an edit of one) must satisfy before it is stored: names, variables and Liquid that parses.</summary>
internal static partial class TemplateRules
{
    public const int MaxNameLength = 100;
    public const int MaxAliasLength = 64;
    public const int MaxVariables = 100;
    public static readonly IReadOnlyList<string> Types = ["string", "number", "boolean"];

    /// <param name="creating">
    /// On create, name, subject and html or text are required; on an edit, only what is given is checked, and a name or
    /// subject given must not be blank (that the edited version keeps html or text is checked on the merged version).
    /// </param>
    public static Dictionary<string, string[]> Check(TemplateRequest request, bool creating)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if ((creating || request.Name is not null)
            && (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > MaxNameLength || SendEmailValidator.ContainsControl(request.Name)))
        {
            errors["name"] = [$"A name of 1 to {MaxNameLength} characters without control characters is required."];
        }

        if (request.Alias is not null && (!Alias().IsMatch(request.Alias) || Guid.TryParse(request.Alias, out _)))
        {
            errors["alias"] = [$"An alias is 1 to {MaxAliasLength} lowercase letters, digits, '-' or '_', starting with a letter or digit, and not shaped like an id."];
        }

        if ((creating || request.Subject is not null) && string.IsNullOrWhiteSpace(request.Subject))
        {
            // An edit that blanked the subject made a version that every send would refuse for its missing subject.
            errors["subject"] = [creating ? "The subject field is required." : "The subject must not be empty or white space; omit it to keep the current one."];
        }

        if (creating && string.IsNullOrEmpty(request.Html) && string.IsNullOrEmpty(request.Text))
        {
            errors["html"] = ["Either html or text is required."];
        }

        foreach (var (field, source) in new[] { ("subject", request.Subject), ("html", request.Html), ("text", request.Text) })
        {
            if (source is not null && source.Contains('\0', StringComparison.Ordinal) && !errors.ContainsKey(field))
            {
                errors[field] = [$"The {field} field must not contain NUL (U+0000)."];
            }
        }

        CheckLiquid(errors, "subject", request.Subject);
        CheckLiquid(errors, "html", request.Html);
        CheckLiquid(errors, "text", request.Text);
        CheckVariables(errors, request.Variables);
        return errors;
    }

    private static void CheckLiquid(Dictionary<string, string[]> errors, string field, string? source)
    {
        if (source is not null && !errors.ContainsKey(field) && !TemplateRenderer.TryCompile(source, out _, out var error))
        {
            errors[field] = [$"The {field} is not a valid Liquid template: {error}"];
        }
    }

    private static void CheckVariables(Dictionary<string, string[]> errors, IReadOnlyList<TemplateVariable>? variables)
    {
        if (variables is null)
        {
            return;
        }

        if (variables.Count > MaxVariables)
        {
            errors["variables"] = [$"At most {MaxVariables} variables can be declared."];
            return;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < variables.Count; i++)
        {
            var variable = variables[i];
            var field = $"variables[{i}]";
            if (variable is null || variable.Name is null || !VariableName().IsMatch(variable.Name))
            {
                errors[field] = ["A variable name is 1 to 64 letters, digits or '_', starting with a letter or '_'."];
            }
            else if (!seen.Add(variable.Name))
            {
                errors[field] = [$"The variable '{variable.Name}' is declared twice."];
            }
            else if (!Types.Contains(variable.Type, StringComparer.Ordinal))
            {
                errors[field] = [$"The type of '{variable.Name}' is one of: {string.Join(", ", Types)}."];
            }
            else if (variable.Default is { ValueKind: not JsonValueKind.Null } value && !Matches(value, variable.Type))
            {
                errors[field] = [$"The default of '{variable.Name}' is not a {variable.Type}."];
            }
        }
    }

    /// <summary>Whether a JSON value is of a declared type.</summary>
    public static bool Matches(JsonElement value, string type) => (type, value.ValueKind) switch
    {
        ("string", JsonValueKind.String) => IsUnicode(value),
        ("number", JsonValueKind.Number) => value.TryGetDecimal(out _),
        ("boolean", JsonValueKind.True or JsonValueKind.False) => true,
        _ => false,
    };

    /// <summary>
    /// Whether a JSON string is a Unicode string: valid JSON may escape a lone surrogate (<c>"\ud800"</c>), which
    /// <see cref="JsonElement.GetString"/> refuses with an exception when the template is rendered.
    /// </summary>
    private static bool IsUnicode(JsonElement value)
    {
        try
        {
            value.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^[a-z0-9][a-z0-9_-]{0,63}\z")]
    private static partial Regex Alias();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]{0,63}\z")]
    private static partial Regex VariableName();
}
