//! serde's sequence, map and enum access over positioned nodes (see the parent module).

use super::{Ctx, De, DeError, display_path};
use crate::config::error::{ConfigError, did_you_mean};
use crate::config::yaml::{Node, index, join};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

pub(super) struct Seq<'a, 'p> {
    items: std::slice::Iter<'a, Node>,
    i: usize,
    path: &'p str,
    ctx: &'a Ctx<'a>,
}

impl<'a, 'p> Seq<'a, 'p> {
    pub(super) fn new(items: &'a [Node], path: &'p str, ctx: &'a Ctx<'a>) -> Self {
        Seq {
            items: items.iter(),
            i: 0,
            path,
            ctx,
        }
    }
}

impl<'de> de::SeqAccess<'de> for Seq<'_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let path = index(self.path, self.i);
        self.i += 1;
        seed.deserialize(De {
            node,
            path: &path,
            ctx: self.ctx,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

pub(super) struct Map<'a, 'p> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    fields: Option<&'static [&'static str]>,
    value: Option<&'a Node>,
    key: String,
    path: &'p str,
    ctx: &'a Ctx<'a>,
}

impl<'a, 'p> Map<'a, 'p> {
    pub(super) fn new(
        entries: &'a [(Node, Node)],
        fields: Option<&'static [&'static str]>,
        path: &'p str,
        ctx: &'a Ctx<'a>,
    ) -> Self {
        Map {
            entries: entries.iter(),
            fields,
            value: None,
            key: String::new(),
            path,
            ctx,
        }
    }
}

impl<'de> de::MapAccess<'de> for Map<'_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for (key, value) in self.entries.by_ref() {
            let name = key.as_str().unwrap_or_default();
            if let Some(fields) = self.fields
                && !fields.contains(&name)
            {
                self.ctx.push(ConfigError::UnknownKey {
                    at: self.ctx.at(key),
                    path: display_path(self.path),
                    key: name.to_string(),
                    suggestion: did_you_mean(name, fields.iter().copied()),
                    expected: fields.join(", "),
                });
                continue;
            }
            self.value = Some(value);
            self.key = join(self.path, name);
            return seed
                .deserialize(De {
                    node: key,
                    path: &self.key,
                    ctx: self.ctx,
                })
                .map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some(node) = self.value.take() else {
            return Err(de::Error::custom("value without a key"));
        };
        seed.deserialize(De {
            node,
            path: &self.key,
            ctx: self.ctx,
        })
    }
}

pub(super) struct Enum<'a> {
    pub(super) name: &'a str,
    pub(super) value: Option<&'a Node>,
    pub(super) path: String,
    pub(super) ctx: &'a Ctx<'a>,
}

impl<'de, 'a> de::EnumAccess<'de> for Enum<'a> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let de: de::value::StrDeserializer<'_, DeError> = self.name.into_deserializer();
        let v = seed.deserialize(de)?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for Enum<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            Some(v) if !v.is_null() => {
                self.ctx
                    .wrong_type(v, &self.path, "nothing after this value");
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.value {
            Some(node) => seed.deserialize(De {
                node,
                path: &self.path,
                ctx: self.ctx,
            }),
            None => Err(de::Error::custom(format!(
                "`{}` needs a value: write `{}: VALUE`",
                self.name, self.name
            ))),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(node) => de::Deserializer::deserialize_seq(
                De {
                    node,
                    path: &self.path,
                    ctx: self.ctx,
                },
                visitor,
            ),
            None => Err(de::Error::custom(format!("`{}` needs a list", self.name))),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Some(node) => de::Deserializer::deserialize_struct(
                De {
                    node,
                    path: &self.path,
                    ctx: self.ctx,
                },
                "",
                fields,
                visitor,
            ),
            None => Err(de::Error::custom(format!(
                "`{}` needs a mapping",
                self.name
            ))),
        }
    }
}
